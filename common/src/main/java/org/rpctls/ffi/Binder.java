package org.rpctls.ffi;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Resolves the symbols of one native library into downcall handles, eagerly, and remembers
 * their names so that a test can prove every bound symbol resolves.
 */
final class Binder {
    static final Linker LINKER = Linker.nativeLinker();

    private final String library;
    private final SymbolLookup lookup;
    private final List<String> names = new ArrayList<>();

    Binder(String library, SymbolLookup lookup) {
        this.library = library;
        this.lookup = lookup;
    }

    MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        names.add(name);
        var address = lookup.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError(library + ": symbol " + name + " not found"));
        return LINKER.downcallHandle(address, descriptor, options);
    }

    List<String> names() {
        return Collections.unmodifiableList(names);
    }

    SymbolLookup lookup() {
        return lookup;
    }

    static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException("native call failed", t);
    }
}
