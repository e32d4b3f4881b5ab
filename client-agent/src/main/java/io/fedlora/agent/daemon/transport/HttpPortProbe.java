package io.fedlora.agent.daemon.transport;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/**
 * Asks an address that accepted a gRPC connection and then closed it without a word ("Network closed for unknown
 * reason") whether it is an HTTP/1.x server. Tomcat, which serves the coordinator's REST port, drops an HTTP/2
 * preface that way, so gRPC alone cannot tell "wrong port" from "coordinator restarting"; a plain HTTP/1.1 request
 * can. A gRPC server never answers one with an HTTP/1.x status line.
 */
final class HttpPortProbe {

    private final Duration timeout;

    HttpPortProbe(Duration timeout) {
        this.timeout = timeout;
    }

    /** The peer's HTTP/1.x status line, or empty when it does not answer HTTP/1.x (or cannot be reached). */
    Optional<String> statusLine(String authority) {
        int colon = authority.lastIndexOf(':');
        if (colon <= 0) {
            return Optional.empty();
        }
        String host = authority.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(authority.substring(colon + 1));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        int millis = (int) Math.max(1, timeout.toMillis());
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), millis);
            socket.setSoTimeout(millis);
            OutputStream out = socket.getOutputStream();
            out.write(("GET / HTTP/1.1\r\nHost: " + authority + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            StringBuilder line = new StringBuilder();
            for (int c; line.length() < 80 && (c = in.read()) >= 0 && c != '\r' && c != '\n'; ) {
                line.append((char) c);
            }
            String status = line.toString();
            return status.startsWith("HTTP/1.") ? Optional.of(status) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }
}
