package dev.microgpt.docker;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which NVIDIA driver can load the PTX a given nvcc writes. The GPU engine loads the kernels as PTX
 * ({@code cuModuleLoadData}) and the driver JIT-compiles them; a driver accepts PTX up to the ISA version of its own
 * CUDA release and refuses newer ones ("Unsupported .version"). So the minimum driver follows from the PTX ISA
 * version in the {@code .version} line, which in turn follows from the nvcc that wrote it.
 *
 * <p>From NVIDIA's PTX ISA release history and the CUDA toolkit release notes (minimum Linux driver of each CUDA
 * release). Two irregularities: CUDA 12.6 still writes PTX ISA 8.5 (so its PTX loads from R555 on, although its
 * runtime needs R560), and ISA 8.6 belongs to CUDA 12.7, of which only the driver (R565) was released; ISA 8.7 is
 * CUDA 12.8's (R570).
 */
final class DriverRequirements {

    /** A PTX ISA version and the first CUDA driver release (and its driver branch) that loads it. */
    record PtxIsa(String version, String cudaDriver, String branch) {
    }

    private static final List<PtxIsa> ISA = List.of(
            new PtxIsa("8.0", "12.0", "R525"),
            new PtxIsa("8.1", "12.1", "R530"),
            new PtxIsa("8.2", "12.2", "R535"),
            new PtxIsa("8.3", "12.3", "R545"),
            new PtxIsa("8.4", "12.4", "R550"),
            new PtxIsa("8.5", "12.5", "R555"),
            new PtxIsa("8.6", "12.7", "R565"),
            new PtxIsa("8.7", "12.8", "R570"),
            new PtxIsa("8.8", "12.9", "R575"),
            new PtxIsa("9.0", "13.0", "R580"),
            new PtxIsa("9.1", "13.1", "R590"));

    /** The PTX ISA version each released nvcc (CUDA toolkit major.minor) writes by default. */
    private static final Map<String, String> NVCC_PTX = new TreeMap<>(Map.ofEntries(
            Map.entry("12.0", "8.0"),
            Map.entry("12.1", "8.1"),
            Map.entry("12.2", "8.2"),
            Map.entry("12.3", "8.3"),
            Map.entry("12.4", "8.4"),
            Map.entry("12.5", "8.5"),
            Map.entry("12.6", "8.5"),
            Map.entry("12.8", "8.7"),
            Map.entry("12.9", "8.8"),
            Map.entry("13.0", "9.0"),
            Map.entry("13.1", "9.1")));

    /** The exact minimum Linux driver of the CUDA releases this project documents by number. */
    static final Map<String, String> EXACT_MINIMUM = Map.of("12.0", "525.60.13", "13.0", "580.65.06");

    private static final Pattern MAJOR_MINOR = Pattern.compile("(\\d+)\\.(\\d+)");

    private DriverRequirements() {
    }

    static List<PtxIsa> table() {
        return ISA;
    }

    static Map<String, String> nvccTable() {
        return NVCC_PTX;
    }

    static Optional<PtxIsa> forPtx(String ptxVersion) {
        return ISA.stream().filter(r -> r.version().equals(ptxVersion)).findFirst();
    }

    /** The PTX ISA version nvcc of CUDA {@code release} ("12.0", or "12.0.1": only major.minor counts) writes. */
    static Optional<String> ptxOfNvcc(String release) {
        return Optional.ofNullable(NVCC_PTX.get(majorMinor(release)));
    }

    /** The driver that loads what nvcc of CUDA {@code release} writes. */
    static Optional<PtxIsa> driverForNvcc(String release) {
        return ptxOfNvcc(release).flatMap(DriverRequirements::forPtx);
    }

    /** "12.0" of "12.0.1", "12.0" or "cuda_12.0.r12.0". */
    static String majorMinor(String version) {
        Matcher m = MAJOR_MINOR.matcher(version);
        if (!m.find()) {
            throw new IllegalArgumentException("no major.minor version in '" + version + "'");
        }
        return m.group(1) + "." + m.group(2);
    }
}
