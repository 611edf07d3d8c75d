package dev.microgpt.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.microgpt.docker.DriverRequirements.PtxIsa;
import dev.microgpt.docker.ProjectFiles.DriverRow;
import dev.microgpt.docker.ProjectFiles.KernelBuild;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The PTX the build emits can be loaded by the driver the documentation promises: the .version of the built
 * /kernels/*.ptx, mapped to its minimum driver ({@link DriverRequirements}), must be what docker/README.md's driver
 * table states for that nvcc; and the Docker image's nvcc (docker/Dockerfile's CUDA_VERSION) must have its row there,
 * marked as the image's, and its minimum driver in the image's labels.
 */
class PtxDriverRequirementTest {

    @Test
    void builtPtxNeedsTheDriverTheDocumentationStatesForItsNvcc() {
        Optional<KernelBuild> found = ProjectFiles.kernelBuild();
        assumeTrue(found.isPresent(), "skipped: /kernels/kernels.properties is not on the classpath (the pom's "
                + "compile-kernels step did not run for this build)");
        KernelBuild build = found.get();
        assumeTrue(build.built(), "skipped: the kernels were not built (no nvcc when Maven ran), so there is no PTX "
                + "whose driver requirement could be checked");
        assertFalse(build.ptx().isEmpty(), "kernels.properties says built=true but no /kernels/*.ptx is there");

        Map<String, String> versions = build.ptxVersions();
        Set<String> distinct = new HashSet<>(versions.values());
        assertEquals(1, distinct.size(), "the kernels declare different PTX ISA versions: " + versions);
        String ptx = distinct.iterator().next();
        PtxIsa isa = DriverRequirements.forPtx(ptx).orElseThrow(() -> new AssertionError("PTX ISA " + ptx
                + " is not in DriverRequirements' table: add it with the first driver release that loads it"));

        String nvcc = build.nvccRelease().orElseThrow(() -> new AssertionError(
                "neither kernels.properties' nvcc.version nor the PTX header names the nvcc release"));
        Optional<String> expectedPtx = DriverRequirements.ptxOfNvcc(nvcc);
        assertTrue(expectedPtx.isPresent(), "nvcc " + nvcc + " is not in DriverRequirements' table: add the PTX "
                + "ISA it writes (" + ptx + " here) and a row '| " + nvcc + " | " + ptx + " | " + isa.branch()
                + " |' to the the driver table");
        assertEquals(expectedPtx.get(), ptx, "nvcc " + nvcc + " wrote PTX ISA " + ptx + " but the table says "
                + expectedPtx.get());

        DriverRow row = readmeRow(nvcc);
        assertEquals(ptx, row.ptx(), "the driver table gives nvcc " + nvcc + " the wrong PTX ISA: " + row.line());
        assertEquals(isa.branch(), row.branch(), "the driver table states the wrong minimum driver for nvcc "
                + nvcc + " (PTX ISA " + ptx + " loads from the CUDA " + isa.cudaDriver() + " driver, "
                + isa.branch() + "): " + row.line());
        String exact = DriverRequirements.EXACT_MINIMUM.get(isa.cudaDriver());
        if (exact != null) {
            assertTrue(row.line().contains(exact), "the driver table's row for nvcc " + nvcc + " should name the exact minimum "
                    + "driver " + exact + ": " + row.line());
        }
        System.out.printf("%d kernels built by nvcc %s as PTX ISA %s (-arch=%s): need a CUDA %s driver, %s or "
                        + "newer, as docker/README.md states%n", versions.size(), nvcc, ptx,
                build.properties().getProperty("cuda.arch"), isa.cudaDriver(), isa.branch());
    }

    @Test
    void theImagesNvccAndItsMinimumDriverAreDocumented() {
        String cuda = ProjectFiles.dockerfileArgs().get("CUDA_VERSION");
        assertTrue(cuda != null && cuda.matches("12\\.\\d+\\.\\d+"), "docker/Dockerfile should set ARG "
                + "CUDA_VERSION=12.x.y (a CUDA 12 image: JCuda 12.6.0 and libcublas.so.12), not " + cuda);
        String ptx = DriverRequirements.ptxOfNvcc(cuda).orElseThrow(() -> new AssertionError(
                "CUDA " + cuda + " is not in DriverRequirements' table"));
        PtxIsa isa = DriverRequirements.forPtx(ptx).orElseThrow();

        DriverRow row = readmeRow(DriverRequirements.majorMinor(cuda));
        assertTrue(row.isDockerImage(), "the driver table should mark nvcc " + DriverRequirements.majorMinor(cuda)
                + " as the Docker image's: " + row.line());
        List<DriverRow> marked = ProjectFiles.driverTable().stream().filter(DriverRow::isDockerImage)
                .collect(Collectors.toList());
        assertEquals(List.of(row), marked, "exactly one row of the driver table is the Docker image's");
        assertEquals(ptx, row.ptx(), row.line());
        assertEquals(isa.branch(), row.branch(), row.line());

        Map<String, String> labels = ProjectFiles.dockerfileLabels();
        assertEquals(ptx, labels.get("dev.microgpt.ptx.isa"), "docker/Dockerfile's label dev.microgpt.ptx.isa");
        String minimum = labels.getOrDefault("dev.microgpt.driver.minimum", "");
        assertTrue(minimum.startsWith(isa.branch()), "docker/Dockerfile's label dev.microgpt.driver.minimum should "
                + "start with " + isa.branch() + " (CUDA " + cuda + " writes PTX ISA " + ptx + "), not '" + minimum + "'");
        String exact = DriverRequirements.EXACT_MINIMUM.get(isa.cudaDriver());
        if (exact != null) {
            assertTrue(minimum.contains(exact), "the label should name the exact minimum driver " + exact);
        }
        System.out.printf("the Docker image's nvcc %s writes PTX ISA %s: driver %s or newer, as docker/README.md and "
                + "the image's labels state%n", cuda, ptx, isa.branch());
    }

    @Test
    void everyRowOfTheDriverTableAgreesWithTheVersionTable() {
        List<DriverRow> rows = ProjectFiles.driverTable();
        assertFalse(rows.isEmpty(), "docker/README.md has no driver table (| nvcc | PTX ISA | driver |)");
        for (DriverRow row : rows) {
            String ptx = DriverRequirements.ptxOfNvcc(row.nvcc()).orElseThrow(() -> new AssertionError(
                    "the driver table lists nvcc " + row.nvcc() + ", which DriverRequirements does not know: " + row.line()));
            assertEquals(ptx, row.ptx(), row.line());
            assertEquals(DriverRequirements.forPtx(ptx).orElseThrow().branch(), row.branch(), row.line());
        }
        assertTrue(rows.stream().anyMatch(r -> r.nvcc().equals("13.0")), "the driver table should state what nvcc 13.0 needs");
    }

    private static DriverRow readmeRow(String nvcc) {
        return ProjectFiles.driverTable().stream().filter(r -> r.nvcc().equals(nvcc)).findFirst()
                .orElseGet(() -> fail("docker/README.md's driver table has no row for nvcc " + nvcc));
    }
}
