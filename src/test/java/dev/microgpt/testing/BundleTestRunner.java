package dev.microgpt.testing;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

import java.io.PrintWriter;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TagFilter;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.engine.TestExecutionResult;

/**
 * Runs the project's tests where there is no Maven, as the GPU bundle does (bench/gpu-bundle.sh, .gpu/test): every test
 * of the project, or those of one tag; one line per test (passed, failed with its error, or skipped with the reason),
 * then the summary and each failure's stack. Exit status 0 when no test failed. (No XML reports: the bundle's runtime
 * leaves the XML module out.)
 *
 * <p>Usage: {@code BundleTestRunner [--include-tag TAG]}
 */
public final class BundleTestRunner {

    private BundleTestRunner() {
    }

    public static void main(String[] args) {
        String tag = null;
        if (args.length == 2 && args[0].equals("--include-tag")) {
            tag = args[1];
        } else if (args.length != 0) {
            System.err.println("BundleTestRunner: expected no arguments or --include-tag TAG, got " + String.join(" ", args));
            System.exit(2);
        }
        LauncherDiscoveryRequestBuilder request = LauncherDiscoveryRequestBuilder.request()
                .selectors(selectPackage("dev.microgpt"));
        if (tag != null) {
            request.filters(TagFilter.includeTags(tag));
        }
        LauncherDiscoveryRequest discovery = request.build();
        PrintWriter out = new PrintWriter(System.out, true);
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        LauncherFactory.create().execute(discovery, summary, new Progress(out));
        summary.getSummary().printTo(out);
        summary.getSummary().printFailuresTo(out, 20);
        System.exit(summary.getSummary().getTotalFailureCount() == 0 ? 0 : 1);
    }

    /** A line per test: ✔, ✘ with the failure's message, or ↷ for one skipped or aborted by an assumption, with why. */
    private record Progress(PrintWriter out) implements TestExecutionListener {
        @Override
        public void executionSkipped(TestIdentifier test, String reason) {
            out.println("↷ " + test.getLegacyReportingName() + ": " + reason);
        }

        @Override
        public void executionFinished(TestIdentifier test, TestExecutionResult result) {
            if (test.isTest()) {
                String mark = switch (result.getStatus()) {
                    case SUCCESSFUL -> "✔ ";
                    case ABORTED -> "↷ ";
                    case FAILED -> "✘ ";
                };
                out.println(mark + test.getUniqueId() + result.getThrowable().map(e -> ": " + e).orElse(""));
            }
        }
    }
}
