package dev.microgpt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.net.httpserver.HttpServer;
import dev.microgpt.files.Sha256;
import dev.microgpt.model.Documents;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every download goes to a server of the test's own on 127.0.0.1; the real network is never touched. */
class DatasetSourceTest {

    private static final byte[] NAMES = "emma\nolivia\r\n\n  ava \n".getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path dir;

    private HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private volatile int status = 200;

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(loopback(), 0), 0);
        server.createContext("/names.txt", exchange -> {
            requests.incrementAndGet();
            exchange.sendResponseHeaders(status, NAMES.length);
            try (OutputStream body = exchange.getResponseBody()) {
                body.write(NAMES);
            }
        });
        server.start();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    @Test
    void downloadsVerifiesAndSavesTheNamesWhenInputTxtIsMissing() throws IOException {
        Dataset dataset = source(namesUrl(), Sha256.hex(NAMES)).resolve(null);

        Path saved = dir.resolve("input.txt");
        assertEquals(Dataset.Origin.DOWNLOADED, dataset.origin());
        assertEquals(List.of("emma", "olivia", "ava"), dataset.documents());
        assertEquals("downloaded the makemore names to " + saved + " (sha256 verified)", dataset.description());
        assertEquals(Sha256.hex(NAMES), dataset.sha256());
        assertArrayEquals(NAMES, Files.readAllBytes(saved));
        assertEquals(List.of(saved), filesIn(dir), "no temporary file is left behind");
    }

    @Test
    void aChecksumMismatchSavesNothingAndFallsBackToTheBuiltInNames() throws IOException {
        String otherSha256 = Sha256.hex("something else".getBytes(StandardCharsets.UTF_8));
        Dataset dataset = source(namesUrl(), otherSha256).resolve(null);

        assertBuiltIn(dataset, "sha256 mismatch: got " + Sha256.hex(NAMES).substring(0, 12));
        assertEquals(1, requests.get());
        assertEquals(List.of(), filesIn(dir));
    }

    @Test
    void anUnreachableServerFallsBackToTheBuiltInNames() throws IOException {
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, loopback())) {
            closedPort = socket.getLocalPort();
        }
        URI unreachable = URI.create("http://127.0.0.1:" + closedPort + "/names.txt");

        Dataset dataset = source(unreachable, Sha256.hex(NAMES)).resolve(null);

        assertBuiltIn(dataset, "cannot connect: ConnectException");
        assertEquals(List.of(), filesIn(dir));
    }

    @Test
    void anHttpErrorFallsBackToTheBuiltInNames() throws IOException {
        status = 404;
        Dataset dataset = source(namesUrl(), Sha256.hex(NAMES)).resolve(null);

        assertBuiltIn(dataset, "HTTP 404");
        assertEquals(List.of(), filesIn(dir));
    }

    @Test
    void anExistingInputTxtIsReadWithoutDownloading() throws IOException {
        Path input = dir.resolve("input.txt");
        byte[] bytes = "zoe\nmax\n".getBytes(StandardCharsets.UTF_8);
        Files.write(input, bytes);

        Dataset dataset = source(namesUrl(), Sha256.hex(NAMES)).resolve(null);

        assertEquals(Dataset.Origin.FILE, dataset.origin());
        assertEquals(List.of("zoe", "max"), dataset.documents());
        assertEquals("read " + input, dataset.description());
        assertEquals(Sha256.hex(bytes), dataset.sha256());
        assertEquals(0, requests.get());
    }

    @Test
    void anExplicitFileIsReadEvenWhenInputTxtExists() throws IOException {
        Files.writeString(dir.resolve("input.txt"), "zoe\n");
        Path chosen = Files.writeString(dir.resolve("cities.txt"), "lima\nosaka\n");

        Dataset dataset = source(namesUrl(), Sha256.hex(NAMES)).resolve(chosen);

        assertEquals(Dataset.Origin.FILE, dataset.origin());
        assertEquals(List.of("lima", "osaka"), dataset.documents());
        assertEquals(Sha256.hex(Files.readAllBytes(chosen)), dataset.sha256());
        assertEquals(0, requests.get());
    }

    @Test
    void aMissingExplicitFileIsAnErrorWithAOneLineMessageAndNoDownload() {
        Path missing = dir.resolve("missing.txt");

        Documents.DatasetException error = assertThrows(Documents.DatasetException.class,
                () -> source(namesUrl(), Sha256.hex(NAMES)).resolve(missing));

        assertTrue(error.getMessage().contains(missing.toString()), error.getMessage());
        assertFalse(error.getMessage().contains("\n"), "one line");
        assertEquals(0, requests.get());
        assertFalse(Files.exists(dir.resolve("input.txt")));
    }

    @Test
    void anEmptyExplicitFileKeepsTheErrorOfDocuments() throws IOException {
        Path empty = Files.writeString(dir.resolve("empty.txt"), " \n\n");

        Documents.DatasetException error = assertThrows(Documents.DatasetException.class,
                () -> source(namesUrl(), Sha256.hex(NAMES)).resolve(empty));

        assertEquals(assertThrows(Documents.DatasetException.class, () -> Documents.read(empty)).getMessage(),
                error.getMessage());
    }

    /** A pipe (/dev/stdin, a process substitution) can be read once: the documents and the fingerprint share the read. */
    @Test
    void aPipeIsReadOnceForItsDocumentsAndItsFingerprint() throws Exception {
        Path fifo = dir.resolve("fifo");
        assumeTrue(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "needs mkfifo");
        byte[] names = String.join("\n", randomNames()).getBytes(StandardCharsets.UTF_8);
        Thread writer = new Thread(() -> {
            try {
                Files.write(fifo, names); // blocks until the reader opens the pipe; writes it once
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        writer.start();
        Dataset dataset = assertTimeoutPreemptively(Duration.ofSeconds(20),
                () -> source(namesUrl(), Sha256.hex(NAMES)).resolve(fifo));
        writer.join();
        assertEquals(Documents.parse(new String(names, StandardCharsets.UTF_8)), dataset.documents());
        assertEquals(Sha256.hex(names), dataset.sha256());
    }

    @Test
    void standardInputIsReadForADash() throws IOException {
        byte[] names = String.join("\r\n", randomNames()).getBytes(StandardCharsets.UTF_8);
        Dataset dataset = DatasetSource.readStandardInput(new ByteArrayInputStream(names));
        assertEquals(Documents.parse(new String(names, StandardCharsets.UTF_8)), dataset.documents());
        assertEquals(Sha256.hex(names), dataset.sha256());
        assertEquals("read standard input", dataset.description());
        Documents.DatasetException empty = assertThrows(Documents.DatasetException.class,
                () -> DatasetSource.readStandardInput(new ByteArrayInputStream(new byte[0])));
        assertTrue(empty.getMessage().startsWith("standard input has no documents"), empty.getMessage());
    }

    private static List<String> randomNames() {
        Random random = new Random();
        return random.ints(50, 1, 12).mapToObj(n -> random.ints(n, 'a', 'z' + 1)
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString()).toList();
    }

    private void assertBuiltIn(Dataset dataset, String reason) {
        List<String> builtin = Documents.parse(new String(BuiltinNames.bytes(), StandardCharsets.UTF_8));
        assertEquals(Dataset.Origin.BUILT_IN, dataset.origin());
        assertEquals(builtin, dataset.documents());
        assertEquals(Sha256.hex(BuiltinNames.bytes()), dataset.sha256());
        String expectedStart = dir.resolve("input.txt") + " not found and the download failed (" + reason;
        String expectedEnd = String.format(Locale.ROOT, "); training on the built-in list of %,d names", builtin.size());
        assertTrue(dataset.description().startsWith(expectedStart), dataset.description());
        assertTrue(dataset.description().endsWith(expectedEnd), dataset.description());
    }

    private DatasetSource source(URI namesUrl, String expectedSha256) {
        return new DatasetSource(dir, namesUrl, expectedSha256);
    }

    private URI namesUrl() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/names.txt");
    }

    private static InetAddress loopback() throws IOException {
        return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    }

    private static List<Path> filesIn(Path directory) throws IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.toList();
        }
    }
}
