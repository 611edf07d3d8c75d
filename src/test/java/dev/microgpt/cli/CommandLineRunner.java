package dev.microgpt.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real command line in a fresh JVM (this test JVM's class path, no Vector API module so that stderr holds
 * only the program's own lines) and collects exit code, stdout and stderr.
 */
final class CommandLineRunner {

    record Result(int exitCode, String stdout, String stderr) {
        List<String> errLines() {
            return stderr.isEmpty() ? List.of() : Arrays.asList(stderr.split("\n"));
        }
    }

    private CommandLineRunner() {
    }

    static Process start(Path workDir, Path stdout, Path stderr, String... args) throws IOException {
        return builder(workDir, stdout, stderr, args).start();
    }

    private static ProcessBuilder builder(Path workDir, Path stdout, Path stderr, String... args) {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-cp", classPath(), Main.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).directory(workDir.toFile())
                .redirectOutput(stdout.toFile()).redirectError(stderr.toFile());
    }

    /**
     * The class path of the program under test: this JVM's, unless {@code microgpt.test.classpath} names another (the
     * JUnit console launcher loads the project through its own class loader, so its java.class.path is the launcher).
     */
    private static String classPath() {
        return System.getProperty("microgpt.test.classpath", System.getProperty("java.class.path"));
    }

    static Result run(Path workDir, String... args) throws IOException, InterruptedException {
        return run(workDir, false, null, Map.of(), args);
    }

    /** As {@link #run}, with {@code stdin} as the program's standard input. */
    static Result runReading(Path workDir, Path stdin, String... args) throws IOException, InterruptedException {
        return run(workDir, false, stdin, Map.of(), args);
    }

    /** As {@link #run}, with these variables added to the program's environment. */
    static Result runWith(Map<String, String> environment, Path workDir, String... args)
            throws IOException, InterruptedException {
        return run(workDir, false, null, environment, args);
    }

    /**
     * As {@link #run}, with the emulated CUDA device (the directory the build names in {@code microgpt.emulated.cuda})
     * taken off the library path: the program sees the machine's own driver, if any.
     */
    static Result runWithoutEmulatedDevice(Path workDir, String... args) throws IOException, InterruptedException {
        return run(workDir, true, null, Map.of(), args);
    }

    private static Result run(Path workDir, boolean withoutEmulatedDevice, Path stdin, Map<String, String> environment,
                              String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile(workDir, "stdout", ".txt");
        Path err = Files.createTempFile(workDir, "stderr", ".txt");
        ProcessBuilder builder = builder(workDir, out, err, args);
        if (stdin != null) {
            builder.redirectInput(stdin.toFile());
        }
        builder.environment().putAll(environment);
        String emulated = System.getProperty("microgpt.emulated.cuda");
        String libraryPath = builder.environment().get("LD_LIBRARY_PATH");
        if (withoutEmulatedDevice && emulated != null && libraryPath != null) {
            builder.environment().put("LD_LIBRARY_PATH", Arrays.stream(libraryPath.split(":"))
                    .filter(entry -> !Path.of(entry).equals(Path.of(emulated)))
                    .collect(java.util.stream.Collectors.joining(":")));
        }
        Process p = builder.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("command line did not finish: " + List.of(args));
        }
        Result r = new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
        Files.delete(out);
        Files.delete(err);
        return r;
    }
}
