package dev.microgpt.docker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * docker/, .github/workflows, .dockerignore and .ci/run run the same steps: the README's test command, then
 * docker/build.sh (the image's build step) with the image's CUDA version, and the linters of .github/lint. Text
 * checks only (no YAML parser is on the test classpath); actionlint and the Dockerfile linters run in
 * .github/lint/run.sh.
 */
class ContainerFilesTest {

    @Test
    void ciRunsTheReadmesTestCommandFirstThenTheImagesBuildStepAndTheLinters() {
        List<String> commands = commands(ProjectFiles.read(".ci/run"));
        assertFalse(commands.isEmpty(), ".ci/run runs nothing");
        assertEquals("mvn -B verify", commands.get(0), ".ci/run's first step must be the README's test command");
        assertTrue(ProjectFiles.read("README.md").contains("\nmvn -B verify\n"), "README's test command changed");
        int build = indexOf(commands, "docker/build.sh");
        int lint = indexOf(commands, ".github/lint/run.sh");
        assertTrue(build > 0 && lint > 0, ".ci/run should run docker/build.sh and .github/lint/run.sh after the "
                + "tests: " + commands);
    }

    @Test
    void theDockerfileBuildsWithTheScriptAndRunsTheLauncherAsANonRootUser() {
        String dockerfile = ProjectFiles.read("docker/Dockerfile");
        Map<String, String> args = ProjectFiles.dockerfileArgs();
        assertEquals("ubuntu22.04", args.get("UBUNTU"), "docker/Dockerfile's ARG UBUNTU");
        List<String> from = lines(dockerfile, "FROM ");
        assertEquals(List.of("FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS build",
                "FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU} AS runtime"), from,
                "two stages: the CUDA devel image builds, the matching runtime image runs");

        String[] stages = dockerfile.split("(?m)^FROM ");
        String buildStage = stages[1];
        String runtimeStage = stages[2];
        assertTrue(buildStage.contains("openjdk-17-jdk-headless maven"), "the build stage installs JDK 17 and "
                + "Maven from Ubuntu");
        assertTrue(buildStage.contains("COPY docker/build.sh docker/") && buildStage.matches(
                "(?s).*\nRUN [^\n]*CUDA_ARCH=\"\\$\\{CUDA_ARCH}\" docker/build.sh\n.*"),
                "the build stage RUNs docker/build.sh with CUDA_ARCH");
        assertEquals("compute_75", args.get("CUDA_ARCH"), "the image's default CUDA_ARCH");

        assertTrue(runtimeStage.contains("openjdk-17-jre-headless"), "the runtime stage installs a headless JRE 17");
        assertTrue(runtimeStage.contains("COPY --from=build /src/target/docker-image/ /opt/microgpt/"),
                "the runtime stage copies what docker/build.sh staged");
        assertEquals(List.of("USER microgpt"), lines(runtimeStage, "USER "), "runs as the non-root user microgpt");
        assertTrue(runtimeStage.contains("useradd --uid 10001"), "the user microgpt is created");
        assertEquals(List.of("WORKDIR /data"), lines(runtimeStage, "WORKDIR "), "works in /data");
        assertEquals(List.of("VOLUME [\"/data\"]"), lines(runtimeStage, "VOLUME "), "/data is a volume");
        assertEquals(List.of("STOPSIGNAL SIGINT"), lines(runtimeStage, "STOPSIGNAL "),
                "docker stop sends SIGINT, on which the trainer saves a checkpoint");
        assertEquals(List.of("ENTRYPOINT [\"/opt/microgpt/run-gpu.sh\"]"), lines(runtimeStage, "ENTRYPOINT "),
                "the entrypoint takes run-gpu.sh's arguments");
        assertTrue(lines(runtimeStage, "CMD ").isEmpty(), "no CMD: without arguments the image trains as "
                + "run-gpu.sh does");
    }

    @Test
    void theImageRunsTheCheckoutsOwnLauncherSoItsJvmFlagsAreBinMicrogpts() {
        String script = ProjectFiles.read("docker/build.sh");
        assertTrue(script.contains("cp bin/microgpt \"$stage/bin/microgpt\"")
                && script.contains("cp run-cpu.sh run-gpu.sh \"$stage/\"")
                && script.contains("cp \"$jar\" \"$stage/target/microgpt-jcuda.jar\""),
                "docker/build.sh stages bin/microgpt, run-cpu.sh, run-gpu.sh and the jar where bin/microgpt looks");
        String launcher = ProjectFiles.read("bin/microgpt");
        assertTrue(launcher.contains("jar=\"$root/target/microgpt-jcuda.jar\""),
                "bin/microgpt no longer runs $root/target/microgpt-jcuda.jar: docker/build.sh stages the jar there");
        for (String flag : new String[] {"-XX:+UseSerialGC", "--add-modules jdk.incubator.vector"}) {
            assertTrue(launcher.contains(flag), "bin/microgpt lost " + flag);
        }
        for (String required : new String[] {"-Dkernels.required=true", "-Dcuda.arch=\"$arch\"", "jar xf",
                "built=true"}) {
            assertTrue(script.contains(required), "docker/build.sh lost " + required);
        }
    }

    @Test
    void ciWorkflowRunsTheSameCommandsOnJava17And21AndInTheImagesCudaContainer() {
        String ci = ProjectFiles.read(".github/workflows/ci.yml");
        Map<String, String> args = ProjectFiles.dockerfileArgs();
        assertTrue(ci.contains("run: mvn -B verify"), "ci.yml runs the README's test command");
        assertTrue(ci.contains("java: ['17', '21']"), "ci.yml tests on Java 17 and 21");
        assertTrue(ci.contains("uses: actions/setup-java@") && ci.contains("distribution: temurin")
                && ci.contains("cache: maven"), "ci.yml sets up Temurin with the Maven cache");
        String image = "nvidia/cuda:" + args.get("CUDA_VERSION") + "-devel-" + args.get("UBUNTU");
        assertTrue(ci.contains("container: " + image), "ci.yml's kernel job runs in " + image
                + ", the Dockerfile's build image");
        assertTrue(ci.contains("openjdk-17-jdk-headless maven"), "ci.yml's kernel job installs what the image does");
        assertTrue(ci.contains("run: bash docker/build.sh --tests"), "ci.yml runs docker/build.sh with the tests");
        assertTrue(ci.contains("path: /root/.m2/repository"), "ci.yml caches Maven's repository in the container");
        assertTrue(ci.contains("run: .github/lint/run.sh"), "ci.yml runs the linters");
    }

    @Test
    void dockerWorkflowBuildsOnPullRequestsAndPushesTagsToGhcr() {
        String docker = ProjectFiles.read(".github/workflows/docker.yml");
        assertTrue(docker.contains("\n  pull_request:\n") && docker.contains("tags: ['v*']"),
                "docker.yml runs on pull requests and v* tags");
        assertTrue(docker.contains("uses: docker/login-action@") && docker.contains("uses: docker/metadata-action@")
                && docker.contains("uses: docker/build-push-action@"), "docker.yml uses docker's actions");
        assertTrue(docker.contains("images: ghcr.io/${{ github.repository }}"), "the image goes to ghcr.io");
        assertTrue(docker.contains("file: docker/Dockerfile") && docker.contains("context: ."),
                "docker.yml builds docker/Dockerfile with the checkout as context");
        assertTrue(docker.contains("push: ${{ github.event_name == 'push' }}")
                        && docker.contains("- if: github.event_name == 'push'"),
                "docker.yml logs in and pushes only for tag pushes, never for pull requests");
        assertTrue(docker.contains("packages: write"), "pushing to ghcr.io needs packages: write");
    }

    @Test
    void dockerignoreKeepsBuildOutputsAndLocalDataOutOfTheContext() {
        List<String> patterns = Arrays.stream(ProjectFiles.read(".dockerignore").split("\n")).map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).collect(Collectors.toList());
        for (String excluded : new String[] {".git", ".gpu", "target*", "bench/out", "input.txt"}) {
            assertTrue(patterns.contains(excluded), ".dockerignore should exclude " + excluded);
        }
        for (String needed : new String[] {"pom.xml", "src", "kernels", "bin", "docker", "docker/build.sh",
                "run-cpu.sh", "run-gpu.sh", "*"}) {
            assertFalse(patterns.contains(needed) || patterns.contains(needed + "/"),
                    ".dockerignore excludes " + needed + ", which the image's build needs");
        }
    }

    /** The commands of a shell script, one per line, without comments, set/cd preludes and blank lines. */
    private static List<String> commands(String script) {
        List<String> commands = new ArrayList<>();
        for (String line : script.split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#") || l.startsWith("set ") || l.startsWith("cd ")) {
                continue;
            }
            commands.add(l);
        }
        return commands;
    }

    private static int indexOf(List<String> commands, String needle) {
        for (int i = 0; i < commands.size(); i++) {
            if (commands.get(i).contains(needle)) {
                return i;
            }
        }
        return -1;
    }

    private static List<String> lines(String text, String prefix) {
        List<String> found = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(prefix) + ".*$").matcher(text);
        while (m.find()) {
            found.add(m.group().strip());
        }
        return found;
    }
}
