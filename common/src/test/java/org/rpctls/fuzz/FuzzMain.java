package org.rpctls.fuzz;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.PrintWriter;
import java.lang.reflect.Method;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * Runs one @FuzzTest method through the JUnit platform in this JVM, for tools/fuzz: one JVM per
 * target (Jazzer fuzzes a single @FuzzTest per JVM) without Maven's start-up cost per target.
 * Usage: FuzzMain fully.qualified.Class#method. Exit status 0 when the test passed, 1 when it
 * failed (Jazzer found a crash, or the seeds did not replay cleanly).
 */
public final class FuzzMain {
    private FuzzMain() {}

    public static void main(String[] args) throws ClassNotFoundException {
        if (args.length != 1 || !args[0].contains("#")) {
            System.err.println("usage: FuzzMain fully.qualified.Class#method");
            System.exit(2);
        }
        String[] target = args[0].split("#", 2);
        Class<?> testClass = Class.forName(target[0]);
        Method method = null;
        for (Method m : testClass.getDeclaredMethods()) {
            if (m.getName().equals(target[1]) && m.isAnnotationPresent(FuzzTest.class)) method = m;
        }
        if (method == null) {
            System.err.println("FuzzMain: no @FuzzTest method " + args[0]);
            System.exit(2);
        }
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectMethod(testClass, method)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(request, summary);
        var s = summary.getSummary();
        s.printFailuresTo(new PrintWriter(System.out), 40);
        System.out.printf("FuzzMain: %s: %d tests, %d succeeded, %d failed%n", args[0], s.getTestsFoundCount(),
                s.getTestsSucceededCount(), s.getTotalFailureCount());
        System.exit(s.getTestsFoundCount() > 0 && s.getTotalFailureCount() == 0 ? 0 : 1);
    }
}
