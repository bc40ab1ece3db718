package org.rpctls.fuzz;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.PrintWriter;
import java.lang.reflect.Method;
import java.util.TreeSet;
import org.junit.platform.engine.support.descriptor.MethodSource;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * Runs one @FuzzTest method through the JUnit platform in this JVM, for tools/fuzz: one JVM per
 * target (Jazzer fuzzes a single @FuzzTest per JVM) without Maven's start-up cost per target.
 *
 * <p>{@code FuzzMain --list} prints every @FuzzTest under org.rpctls as Class#method;
 * {@code FuzzMain Class#method} runs it (fuzzing when JAZZER_FUZZ=1, else replaying its seeds).
 * Exit status 0 when the test passed, 1 when it failed (Jazzer found a crash, or a seed failed).
 * One input running longer than 10 s counts as a finding (libFuzzer's -timeout).
 */
public final class FuzzMain {
    private FuzzMain() {}

    public static void main(String[] args) throws ClassNotFoundException {
        Launcher launcher = LauncherFactory.create();
        if (args.length == 1 && args[0].equals("--list")) {
            TestPlan plan = launcher.discover(LauncherDiscoveryRequestBuilder.request().selectors(selectPackage("org.rpctls")).build());
            TreeSet<String> targets = new TreeSet<>();
            for (TestIdentifier root : plan.getRoots()) collect(plan, root, targets);
            targets.forEach(System.out::println);
            return;
        }
        if (args.length != 1 || !args[0].contains("#")) {
            System.err.println("usage: FuzzMain --list | fully.qualified.Class#method");
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
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectMethod(testClass, method))
                // libFuzzer's per-input -timeout. Jazzer's documented route (JUnit's default timeouts) would
                // also make JUnit cut the whole fuzzing run short; jazzer.internal.arg.N are the libFuzzer
                // arguments Jazzer's JUnit integration reads (0 is argv[0]).
                .configurationParameter("jazzer.internal.arg.0", "fuzzmain")
                .configurationParameter("jazzer.internal.arg.1", "-timeout=10")
                .build();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        launcher.execute(request, summary);
        var s = summary.getSummary();
        s.printFailuresTo(new PrintWriter(System.out), 40);
        System.out.printf("FuzzMain: %s: %d tests, %d succeeded, %d failed%n", args[0], s.getTestsFoundCount(),
                s.getTestsSucceededCount(), s.getTotalFailureCount());
        System.exit(s.getTestsFoundCount() > 0 && s.getTotalFailureCount() == 0 ? 0 : 1);
    }

    private static void collect(TestPlan plan, TestIdentifier id, TreeSet<String> out) {
        if (id.getSource().orElse(null) instanceof MethodSource m && m.getJavaMethod().isAnnotationPresent(FuzzTest.class)) {
            out.add(m.getClassName() + "#" + m.getMethodName());
        }
        for (TestIdentifier child : plan.getChildren(id)) collect(plan, child, out);
    }
}
