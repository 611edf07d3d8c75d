package dev.microgpt.docker;

import dev.microgpt.testing.ClasspathDirectory;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** The checkout's container and CI files, docker/README.md's driver table, and the PTX the build put on the classpath. */
final class ProjectFiles {

    static final String DOCKER_README = "docker/README.md";

    /** A row of docker/README.md's driver table: | nvcc | PTX ISA | minimum driver |. */
    record DriverRow(String nvcc, String ptx, String branch, String line) {
        boolean isDockerImage() {
            return line.contains("Docker image");
        }
    }

    private static final Pattern ROW = Pattern.compile(
            "^\\|\\s*(\\d+\\.\\d+)[^|]*\\|\\s*`?(\\d+\\.\\d+)`?\\s*\\|\\s*(R\\d{3})\\b[^|]*\\|\\s*$");
    private static final Pattern ARG = Pattern.compile("(?m)^ARG\\s+([A-Za-z_][A-Za-z0-9_]*)=(\\S+)\\s*$");
    private static final Pattern LABEL = Pattern.compile("([a-z0-9.\\-]+)=\"([^\"]*)\"");
    private static final Pattern PTX_VERSION = Pattern.compile("(?m)^\\s*\\.version\\s+(\\d+\\.\\d+)\\s*$");

    private ProjectFiles() {
    }

    /** The checkout: Maven's basedir (surefire sets it), else the working directory. */
    static Path root() {
        String basedir = System.getProperty("basedir");
        Path root = Path.of(basedir != null && !basedir.isEmpty() ? basedir : System.getProperty("user.dir"))
                .toAbsolutePath();
        assertTrue(Files.isRegularFile(root.resolve("pom.xml")), "not run from the checkout: no pom.xml in " + root);
        return root;
    }

    static String read(String relative) {
        Path p = root().resolve(relative);
        assertTrue(Files.isRegularFile(p), relative + " is missing from the checkout");
        try {
            return Files.readString(p, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The rows of the driver table in docker/README.md. */
    static List<DriverRow> driverTable() {
        List<DriverRow> rows = new ArrayList<>();
        for (String line : read(DOCKER_README).split("\n")) {
            Matcher m = ROW.matcher(line.strip());
            if (m.matches()) {
                rows.add(new DriverRow(m.group(1), m.group(2), m.group(3), line.strip()));
            }
        }
        return rows;
    }

    /** The ARG defaults of docker/Dockerfile, in order. */
    static Map<String, String> dockerfileArgs() {
        Map<String, String> args = new LinkedHashMap<>();
        Matcher m = ARG.matcher(read("docker/Dockerfile"));
        while (m.find()) {
            args.putIfAbsent(m.group(1), m.group(2));
        }
        return args;
    }

    /** The LABEL key="value" pairs of docker/Dockerfile (continuation lines included). */
    static Map<String, String> dockerfileLabels() {
        String dockerfile = read("docker/Dockerfile").replace("\\\n", " ");
        Map<String, String> labels = new TreeMap<>();
        for (String line : dockerfile.split("\n")) {
            if (line.startsWith("LABEL ")) {
                Matcher m = LABEL.matcher(line);
                while (m.find()) {
                    labels.put(m.group(1), m.group(2));
                }
            }
        }
        return labels;
    }

    /** What pom.xml's compile-kernels step left on the classpath: kernels.properties and the PTX files by name. */
    record KernelBuild(Properties properties, Map<String, String> ptx) {

        boolean built() {
            return Boolean.parseBoolean(properties.getProperty("built"));
        }

        /** The CUDA release of the nvcc that wrote the PTX ("13.0"), from kernels.properties or the PTX header. */
        Optional<String> nvccRelease() {
            Matcher m = Pattern.compile("cuda_(\\d+\\.\\d+)").matcher(properties.getProperty("nvcc.version", ""));
            if (m.find()) {
                return Optional.of(m.group(1));
            }
            for (String text : ptx.values()) {
                Matcher r = Pattern.compile("Cuda compilation tools, release (\\d+\\.\\d+)").matcher(text);
                if (r.find()) {
                    return Optional.of(r.group(1));
                }
            }
            return Optional.empty();
        }

        /** The .version of each PTX file. */
        Map<String, String> ptxVersions() {
            Map<String, String> versions = new TreeMap<>();
            ptx.forEach((name, text) -> {
                Matcher m = PTX_VERSION.matcher(text);
                assertTrue(m.find(), "/kernels/" + name + ".ptx declares no .version");
                versions.put(name, m.group(1));
            });
            return versions;
        }
    }

    /** The kernel build on this test classpath, if the compile-kernels step ran for it. */
    static Optional<KernelBuild> kernelBuild() {
        URL url = ProjectFiles.class.getResource("/kernels/kernels.properties");
        if (url == null) {
            return Optional.empty();
        }
        try {
            Properties p = new Properties();
            try (InputStream in = url.openStream()) {
                p.load(in);
            }
            Path dir = ClasspathDirectory.of(url);
            Map<String, String> ptx = new TreeMap<>();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : (Iterable<Path>) files::iterator) {
                    String name = f.getFileName().toString();
                    if (name.endsWith(".ptx")) {
                        ptx.put(name.substring(0, name.length() - 4), Files.readString(f, StandardCharsets.UTF_8));
                    }
                }
            }
            return Optional.of(new KernelBuild(p, ptx));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
