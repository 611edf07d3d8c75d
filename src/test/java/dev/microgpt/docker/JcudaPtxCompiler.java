package dev.microgpt.docker;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * JCuda's binding of NVIDIA's nvPTXCompiler library ({@code jcuda.nvptxcompiler.JNvPTXCompiler}, in the
 * {@code org.jcuda:jcuda} jar; the library itself is linked statically into jcuda-natives' libJNvPTXCompiler). It is
 * the PTX assembler of CUDA 12.0 (JCuda 12.6.0's natives were built with that toolkit) and needs no GPU and no
 * driver, so it shows here what a CUDA 12.0 driver's JIT accepts. Reached by reflection, so these tests compile
 * whether or not the pom declares JCuda: from the test classpath, else from the local Maven repository.
 */
final class JcudaPtxCompiler {

    /** The outcome of one nvPTXCompilerCompile. */
    record Result(int code, String name, String log) {
        boolean ok() {
            return code == 0;
        }
    }

    private final Class<?> api;
    private final Constructor<?> newHandle;
    private final Class<?> results;
    private final String origin;

    private JcudaPtxCompiler(ClassLoader loader, String origin) throws ReflectiveOperationException {
        this.api = Class.forName("jcuda.nvptxcompiler.JNvPTXCompiler", false, loader);
        this.newHandle = Class.forName("jcuda.nvptxcompiler.nvPTXCompilerHandle", false, loader).getConstructor();
        this.results = Class.forName("jcuda.nvptxcompiler.nvPTXCompileResult", false, loader);
        this.origin = origin;
    }

    /** Where JCuda came from (the test classpath or a jar of the local Maven repository). */
    String origin() {
        return origin;
    }

    /**
     * JCuda's PTX compiler with its native library loaded, or the reason it cannot be had here (a string starting
     * with "unavailable").
     */
    static Optional<JcudaPtxCompiler> find(StringBuilder reason) {
        JcudaPtxCompiler compiler = null;
        try {
            compiler = new JcudaPtxCompiler(JcudaPtxCompiler.class.getClassLoader(), "the test classpath");
        } catch (ReflectiveOperationException | LinkageError e) {
            Optional<List<Path>> jars = localRepositoryJars();
            if (jars.isEmpty()) {
                reason.append("unavailable: JCuda (org.jcuda:jcuda with jcuda-natives for ").append(classifier())
                        .append(") is neither on the test classpath nor in the local Maven repository ")
                        .append(localRepository());
                return Optional.empty();
            }
            try {
                URL[] urls = new URL[jars.get().size()];
                for (int i = 0; i < urls.length; i++) {
                    urls[i] = jars.get().get(i).toUri().toURL();
                }
                // Never closed: the native library stays loaded for the JVM's life, tied to this loader.
                @SuppressWarnings("resource")
                URLClassLoader loader = new URLClassLoader(urls, ClassLoader.getPlatformClassLoader());
                compiler = new JcudaPtxCompiler(loader, jars.get().stream().map(p -> p.getFileName().toString())
                        .collect(Collectors.joining(" + ")));
            } catch (IOException | ReflectiveOperationException | LinkageError e2) {
                reason.append("unavailable: JCuda's jars in ").append(localRepository()).append(" failed: ").append(e2);
                return Optional.empty();
            }
        }
        try {
            compiler.version(); // loads the native library
            return Optional.of(compiler);
        } catch (RuntimeException | LinkageError e) {
            reason.append("unavailable: JCuda's nvPTXCompiler native library does not load on ")
                    .append(classifier()).append(" (from ").append(compiler.origin).append("): ").append(e);
            return Optional.empty();
        }
    }

    /** nvPTXCompilerGetVersion: the CUDA release of the compiler, e.g. "12.0". */
    String version() {
        int[] major = new int[1];
        int[] minor = new int[1];
        int code = (Integer) call("nvPTXCompilerGetVersion", new Class<?>[] {int[].class, int[].class}, major, minor);
        if (code != 0) {
            throw new IllegalStateException("nvPTXCompilerGetVersion: " + name(code));
        }
        return major[0] + "." + minor[0];
    }

    /** Compiles {@code ptx} with the given options (e.g. "--gpu-name=sm_75"); the error log when it fails. */
    Result compile(String ptx, String... options) {
        Object handle;
        try {
            handle = newHandle.newInstance();
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
        Class<?> h = newHandle.getDeclaringClass();
        byte[] image = (ptx + "\0").getBytes(StandardCharsets.UTF_8);
        int code = (Integer) call("nvPTXCompilerCreate", new Class<?>[] {h, long.class, byte[].class},
                handle, (long) image.length, image);
        if (code != 0) {
            return new Result(code, name(code), "nvPTXCompilerCreate failed");
        }
        try {
            code = (Integer) call("nvPTXCompilerCompile", new Class<?>[] {h, int.class, String[].class},
                    handle, options.length, options);
            String log = "";
            if (code != 0) {
                long[] size = new long[1];
                call("nvPTXCompilerGetErrorLogSize", new Class<?>[] {h, long[].class}, handle, size);
                if (size[0] > 0) {
                    byte[] bytes = new byte[(int) size[0]];
                    call("nvPTXCompilerGetErrorLog", new Class<?>[] {h, byte[].class}, handle, bytes);
                    log = new String(bytes, StandardCharsets.UTF_8).replace("\0", "").strip();
                }
            }
            return new Result(code, name(code), log);
        } finally {
            call("nvPTXCompilerDestroy", new Class<?>[] {h}, handle);
        }
    }

    private String name(int code) {
        try {
            return (String) results.getMethod("stringFor", int.class).invoke(null, code);
        } catch (ReflectiveOperationException e) {
            return "code " + code;
        }
    }

    private Object call(String method, Class<?>[] types, Object... args) {
        try {
            Method m = api.getMethod(method, types);
            return m.invoke(null, args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException) {
                throw (RuntimeException) cause;
            }
            if (cause instanceof Error) {
                throw (Error) cause;
            }
            throw new IllegalStateException(cause);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** jcuda-natives' classifier for this platform, e.g. linux-x86_64. */
    static String classifier() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.startsWith("linux") ? "linux" : os.startsWith("windows") ? "windows"
                : os.startsWith("mac") ? "apple" : os;
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }

    static Path localRepository() {
        String configured = System.getProperty("maven.repo.local");
        return configured != null && !configured.isEmpty() ? Path.of(configured)
                : Path.of(System.getProperty("user.home"), ".m2", "repository");
    }

    /** The newest org.jcuda:jcuda version whose jar and natives jar for this platform are both in the repository. */
    private static Optional<List<Path>> localRepositoryJars() {
        Path base = localRepository().resolve("org/jcuda");
        if (!Files.isDirectory(base.resolve("jcuda"))) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(base.resolve("jcuda"))) {
            return versions.map(v -> v.getFileName().toString())
                    .sorted(Comparator.comparing(JcudaPtxCompiler::versionKey).reversed())
                    .map(v -> List.of(base.resolve("jcuda/" + v + "/jcuda-" + v + ".jar"),
                            base.resolve("jcuda-natives/" + v + "/jcuda-natives-" + v + "-" + classifier() + ".jar")))
                    .filter(jars -> jars.stream().allMatch(Files::isRegularFile))
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static String versionKey(String version) {
        StringBuilder key = new StringBuilder();
        for (String part : version.split("[.-]")) {
            key.append(String.format("%8s", part).replace(' ', '0'));
        }
        return key.toString();
    }
}
