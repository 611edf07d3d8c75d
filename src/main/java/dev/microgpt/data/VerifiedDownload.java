package dev.microgpt.data;

import dev.microgpt.files.Sha256;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Fetches one file over HTTP(S) and accepts it only when its SHA-256 is the expected one. */
final class VerifiedDownload {

    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    static final Duration TOTAL_TIMEOUT = Duration.ofSeconds(30);

    /** The download gave nothing usable; the message is the reason in a few words, for the log. */
    static final class FailedException extends Exception {
        FailedException(String reason) {
            super(reason);
        }
    }

    private final URI uri;
    private final String expectedSha256;

    VerifiedDownload(URI uri, String expectedSha256) {
        this.uri = uri;
        this.expectedSha256 = expectedSha256;
    }

    /**
     * The verified bytes.
     *
     * @throws FailedException        for no network, a timeout, an HTTP error status or a checksum mismatch
     * @throws InterruptedIOException when the thread is interrupted; that is a request to stop, not a reason to
     *                                fall back, so it is not folded into FailedException
     */
    byte[] fetch() throws FailedException, InterruptedIOException {
        HttpClient client = HttpClient.newBuilder()
                .connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NORMAL)
                .build();
        // The request timeout only covers the wait for the response headers; the get() below bounds the body too.
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(TOTAL_TIMEOUT).GET().build();
        CompletableFuture<HttpResponse<byte[]>> pending = client.sendAsync(request, HttpResponse.BodyHandlers.ofByteArray());
        HttpResponse<byte[]> response;
        try {
            response = pending.get(TOTAL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            pending.cancel(true);
            throw new FailedException("timed out after " + TOTAL_TIMEOUT.toSeconds() + " s");
        } catch (ExecutionException e) {
            throw new FailedException(reason(e.getCause()));
        } catch (InterruptedException e) {
            pending.cancel(true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while downloading " + uri);
        }
        if (response.statusCode() != 200) {
            throw new FailedException("HTTP " + response.statusCode());
        }
        byte[] body = response.body();
        String actual = Sha256.hex(body);
        if (!actual.equalsIgnoreCase(expectedSha256)) {
            throw new FailedException("sha256 mismatch: got " + actual.substring(0, 12) + "..., expected "
                    + expectedSha256.substring(0, Math.min(12, expectedSha256.length())) + "...");
        }
        return body;
    }

    /** Names the failure in a few words: the kind of problem and the exception that shows it. */
    static String reason(Throwable failure) {
        if (failure instanceof HttpConnectTimeoutException) {
            return "no connection within " + CONNECT_TIMEOUT.toSeconds() + " s";
        }
        if (failure instanceof HttpTimeoutException) {
            return "timed out after " + TOTAL_TIMEOUT.toSeconds() + " s";
        }
        // The HttpClient wraps the telling exception in others (an unresolvable host in a ConnectException, a refused
        // connection in a ConnectException around a ClosedChannelException), so the whole chain is searched.
        Throwable root = failure;
        boolean connectFailed = false;
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof UnknownHostException || t instanceof UnresolvedAddressException
                    || t instanceof NoRouteToHostException) {
                return "no network: " + t.getClass().getSimpleName();
            }
            connectFailed |= t instanceof ConnectException;
            root = t;
        }
        if (connectFailed) {
            return "cannot connect: ConnectException";
        }
        String name = root.getClass().getSimpleName();
        return root.getMessage() == null ? name : name + ": " + root.getMessage().replaceAll("\\s+", " ");
    }
}
