package dev.microgpt.kernels;

import dev.microgpt.testing.ClasspathDirectory;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What the build's compile-kernels step (pom.xml, maven-antrun-plugin) left on the test classpath: the PTX of
 * every kernels/*.cu as /kernels/NAME.ptx, and /kernels/kernels.properties saying whether nvcc ran, for which
 * cuda.arch, and where the sources are. Also the kernel entry points the GPU engine looks up by name.
 */
final class KernelBuild {

    /** Every kernel family (kernels/NAME.cu, /kernels/NAME.ptx) and the extern "C" entry points it must define. */
    static final Map<String, Set<String>> EXPECTED_ENTRIES = Collections.unmodifiableMap(new TreeMap<>(Map.of(
            "rmsnorm", Set.of("rmsnorm_forward", "rmsnorm_backward", "embedding_rmsnorm_forward",
                    "embedding_backward"),
            "linear", Set.of("linear_forward", "linear_backward"),
            "qkv", Set.of("qkv_forward", "qkv_backward"),
            "attention", Set.of("attention_forward", "attention_backward", "attention_shared_bytes"),
            "crossentropy", Set.of("crossentropy_forward_backward"),
            "adam", Set.of("adam_update"),
            "step", Set.of("train_step_fused", "train_step_fused_sizes"))));

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z_$][A-Za-z0-9_$]*)\\s*\\(");

    private final Properties props;
    private final Path ptxDir;

    private KernelBuild(Properties props, Path ptxDir) {
        this.props = props;
        this.ptxDir = ptxDir;
    }

    /** The build's record, or the test is skipped when the compile-kernels step did not run for this classpath. */
    static KernelBuild load() {
        URL url = KernelBuild.class.getResource("/kernels/kernels.properties");
        assumeTrue(url != null, "skipped: /kernels/kernels.properties is not on the classpath (the pom's "
                + "compile-kernels step did not run for this build)");
        Properties p = new Properties();
        try (InputStream in = url.openStream()) {
            p.load(in);
            return new KernelBuild(p, ClasspathDirectory.of(url));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Skips the calling test, with the reason, when nvcc was not found at build time. */
    KernelBuild requireBuilt() {
        assumeTrue(built(), "skipped: the kernels were not built (nvcc was not found when Maven ran, see the "
                + "build's [WARNING]); build with the CUDA toolkit on PATH or in $CUDA_HOME/bin");
        return this;
    }

    boolean built() {
        return Boolean.parseBoolean(props.getProperty("built"));
    }

    /** The -arch the PTX was generated for, e.g. compute_75. */
    String cudaArch() {
        return props.getProperty("cuda.arch", "");
    }

    /** The GPU the build assembled machine code for, e.g. sm_90; empty for none. */
    String cudaSass() {
        return props.getProperty("cuda.sass", "");
    }

    /** Names of the families whose machine code for {@link #cudaSass()} is on the classpath under /kernels, sorted. */
    List<String> machineCodeFamilies() throws IOException {
        String suffix = "." + cudaSass() + ".cubin";
        try (Stream<Path> s = Files.list(ptxDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(suffix))
                    .map(n -> n.substring(0, n.length() - suffix.length())).sorted().collect(Collectors.toList());
        }
    }

    byte[] machineCode(String family) throws IOException {
        return Files.readAllBytes(ptxDir.resolve(family + "." + cudaSass() + ".cubin"));
    }

    /** kernels/ of the checkout the build compiled. */
    Path sourceDir() {
        String dir = props.getProperty("source.dir", "");
        return dir.isEmpty() ? Path.of("kernels").toAbsolutePath() : Path.of(dir);
    }

    Optional<Path> nvcc() {
        String n = props.getProperty("nvcc", "");
        return n.isEmpty() ? Optional.empty() : Optional.of(Path.of(n));
    }

    /** Names (without .cu) of the kernel families in the source directory, sorted. */
    List<String> sourceFamilies() throws IOException {
        try (Stream<Path> s = Files.list(sourceDir())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
                    .map(n -> n.substring(0, n.length() - 3)).sorted().collect(Collectors.toList());
        }
    }

    /** Names (without .ptx) of the PTX files on the classpath under /kernels, sorted. */
    List<String> ptxFamilies() throws IOException {
        try (Stream<Path> s = Files.list(ptxDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".ptx"))
                    .map(n -> n.substring(0, n.length() - 4)).sorted().collect(Collectors.toList());
        }
    }

    String ptx(String family) throws IOException {
        return Files.readString(ptxDir.resolve(family + ".ptx"), StandardCharsets.UTF_8);
    }

    /** The .entry names a PTX declares, in order. */
    static Set<String> entries(String ptx) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = ENTRY.matcher(ptx);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** An executable named {@code name} on PATH or in $CUDA_HOME/bin (or beside {@code alsoIn}), if any. */
    static Optional<Path> findExecutable(String name, Optional<Path> alsoIn) {
        List<Path> dirs = new ArrayList<>();
        alsoIn.ifPresent(dirs::add);
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(java.io.File.pathSeparator)) {
                if (!d.isEmpty()) {
                    dirs.add(Path.of(d));
                }
            }
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null && !cudaHome.isEmpty()) {
            dirs.add(Path.of(cudaHome, "bin"));
        }
        return dirs.stream().map(d -> d.resolve(name)).filter(Files::isRegularFile).filter(Files::isExecutable)
                .findFirst();
    }

    /** The output of a finished process: exit status and stdout and stderr merged. */
    record Run(int exit, String output) {
    }

    static Run run(List<String> command, Path workDir, long timeoutSeconds) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        if (workDir != null) {
            pb.directory(workDir.toFile());
        }
        Process p = pb.start();
        byte[] out;
        try (InputStream in = p.getInputStream()) {
            out = in.readAllBytes();
        }
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", command) + " did not finish in " + timeoutSeconds + " s");
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
