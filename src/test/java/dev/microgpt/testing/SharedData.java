package dev.microgpt.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The project's shared data beside the checkout (../shared): names.txt and the reference run of microgpt.py.
 * It is never committed, so tests that need it are skipped, with the reason, where it is absent.
 */
public final class SharedData {

    private SharedData() {
    }

    public static Path root() {
        return Path.of(System.getProperty("microgpt.shared", "../shared")).toAbsolutePath().normalize();
    }

    /** A file under ../shared, or the test is skipped saying which file is missing. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        assumeTrue(Files.isRegularFile(p), () -> "skipped: " + p + " is absent (the shared data lives beside the checkout, never in it)");
        return p;
    }

    public static Path names() {
        return require("data/names.txt");
    }
}
