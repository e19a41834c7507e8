package io.jvhost.display.websocket;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The opening handshake's checks of a client's Upgrade request (RFC 6455 §4.2.1): each malformed field is refused
 * with a reason naming what was sent; what browsers and websockify clients really send is accepted.
 */
class WebSocketHandshakeTest
{
    private static final String KEY = "dGhlIHNhbXBsZSBub25jZQ==";

    @Test
    void acceptIsTheRfcExample()
    {
        assertThat(WebSocketHandshake.accept(KEY)).isEqualTo("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    @Test
    void realClientsRequestsAreAccepted()
    {
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", "13", KEY)).isNull();
        // Firefox: "keep-alive, Upgrade"; case and spaces vary.
        assertThat(WebSocketHandshake.problem("GET", " WebSocket ", "keep-alive, Upgrade", " 13 ", " " + KEY + " "))
            .isNull();
    }

    @Test
    void eachMalformedFieldIsRefusedNamingWhatWasSent()
    {
        assertThat(WebSocketHandshake.problem("POST", "websocket", "Upgrade", "13", KEY)).contains("GET", "POST");
        assertThat(WebSocketHandshake.problem("GET", null, "Upgrade", "13", KEY)).contains("Upgrade", "null");
        assertThat(WebSocketHandshake.problem("GET", "h2c", "Upgrade", "13", KEY)).contains("h2c");
        assertThat(WebSocketHandshake.problem("GET", "websocket", null, "13", KEY)).contains("Connection");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "keep-alive, Upgraded", "13", KEY))
            .as("a token that merely starts with upgrade").contains("Upgraded");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", "8", KEY)).contains("13", "8");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", null, KEY)).contains("Version");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", "13", null)).contains("missing");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", "13", "c2hvcnQ="))
            .as("5 bytes, not 16").contains("16 bytes", "c2hvcnQ=");
        assertThat(WebSocketHandshake.problem("GET", "websocket", "Upgrade", "13", "not*base64!"))
            .contains("not base64", "not*base64!");
    }

    @Test
    void onlyTheBinarySubprotocolIsChosenAndOnlyWhenOffered()
    {
        assertThat(WebSocketHandshake.subprotocol(null)).isNull();
        assertThat(WebSocketHandshake.subprotocol("base64")).isNull();
        assertThat(WebSocketHandshake.subprotocol("base64, Binary")).isEqualTo(WebSocketHandshake.BINARY);
        assertThat(WebSocketHandshake.subprotocol("binaryish")).isNull();
    }
}
