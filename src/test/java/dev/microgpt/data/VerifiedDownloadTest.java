package dev.microgpt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.ConnectException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import org.junit.jupiter.api.Test;

/** The few-word reasons for failures that a test cannot provoke on 127.0.0.1 alone. */
class VerifiedDownloadTest {

    @Test
    void anUnresolvableHostMeansNoNetwork() {
        ConnectException wrapped = new ConnectException();
        wrapped.initCause(new UnresolvedAddressException());
        assertEquals("no network: UnresolvedAddressException", VerifiedDownload.reason(wrapped));
        assertEquals("no network: UnknownHostException", VerifiedDownload.reason(new UnknownHostException("example.org")));
    }

    @Test
    void timeoutsNameTheirLimit() {
        assertEquals("no connection within 10 s", VerifiedDownload.reason(new HttpConnectTimeoutException("connect timed out")));
        assertEquals("timed out after 30 s", VerifiedDownload.reason(new HttpTimeoutException("request timed out")));
    }

    @Test
    void otherFailuresGiveTheirTypeAndOneLineMessage() {
        assertEquals("IOException: stream closed early", VerifiedDownload.reason(new IOException("stream\nclosed early")));
    }
}
