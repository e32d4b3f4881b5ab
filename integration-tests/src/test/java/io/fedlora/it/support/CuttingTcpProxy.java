package io.fedlora.it.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loopback TCP proxy that forwards bytes both ways and, once, breaks the connection that carries an
 * upload: the first time a connection sends more than {@code burstBytes} towards the server in one
 * burst (reads less than 200 ms apart; heartbeats and polls are far smaller), it either
 * <ul>
 * <li>{@link Mode#CUT_MID_UPLOAD}: forwards exactly {@code burstBytes} of it and closes both sockets, so
 * the server sees a truncated upload; or</li>
 * <li>{@link Mode#HOLD_REPLIES}: forwards the whole upload but from then on drops everything the server
 * sends back on that connection, until the test calls {@link #cutHeld()} (for instance once the server
 * has stored the upload), so the client never sees the server's acknowledgement.</li>
 * </ul>
 * Later connections are left alone, so the client's retry can succeed.
 */
public final class CuttingTcpProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CuttingTcpProxy.class);
    private static final long BURST_GAP_NANOS = 200_000_000L;

    /** What happens to the connection whose upload burst crosses the threshold. */
    public enum Mode { CUT_MID_UPLOAD, HOLD_REPLIES }

    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final long burstBytes;
    private final Mode mode;
    private final AtomicBoolean cut = new AtomicBoolean();
    private final AtomicBoolean armed = new AtomicBoolean(true);
    private final AtomicReference<Connection> held = new AtomicReference<>();
    private final CountDownLatch holding = new CountDownLatch(1);
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    public CuttingTcpProxy(String targetHost, int targetPort, long burstBytes) throws IOException {
        this(targetHost, targetPort, burstBytes, Mode.CUT_MID_UPLOAD);
    }

    public CuttingTcpProxy(String targetHost, int targetPort, long burstBytes, Mode mode) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.burstBytes = burstBytes;
        this.mode = mode;
        this.acceptor = new Thread(this::acceptLoop, "proxy-accept-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    public String address() {
        return "127.0.0.1:" + port();
    }

    /** True once a connection has been cut. */
    public boolean cutHappened() {
        return cut.get();
    }

    /** In {@link Mode#HOLD_REPLIES}: waits until an upload went through and its replies are being dropped. */
    public boolean awaitHolding(Duration timeout) throws InterruptedException {
        return holding.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** In {@link Mode#HOLD_REPLIES}: closes the held connection, whose replies the client never saw. */
    public void cutHeld() {
        Connection c = held.get();
        if (c == null) {
            throw new IllegalStateException("no connection is held");
        }
        log.info("cutting the held connection; the server's replies to its upload were dropped");
        cut.set(true);
        c.close();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(targetHost, targetPort);
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(upstream);
                Connection connection = new Connection(client, upstream);
                start("up", () -> pumpUp(connection));
                start("down", () -> pumpDown(connection));
            } catch (IOException e) {
                if (!server.isClosed()) {
                    log.warn("proxy accept failed: {}", e.toString());
                }
            }
        }
    }

    private void pumpUp(Connection c) {
        byte[] buf = new byte[8192];
        long burst = 0;
        long lastRead = 0;
        try (InputStream in = c.client.getInputStream(); OutputStream out = c.upstream.getOutputStream()) {
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                if (armed.get()) {
                    long now = System.nanoTime();
                    burst = now - lastRead > BURST_GAP_NANOS ? n : burst + n;
                    lastRead = now;
                    if (burst > burstBytes && armed.compareAndSet(true, false)) {
                        if (mode == Mode.CUT_MID_UPLOAD) {
                            int keep = (int) Math.max(0, n - (burst - burstBytes));
                            out.write(buf, 0, keep);
                            out.flush();
                            log.info("cutting the connection after a {}-byte burst towards the server", burstBytes);
                            cut.set(true);
                            c.close();
                            return;
                        }
                        c.dropReplies = true;
                        held.set(c);
                        log.info("holding the connection: a burst of over {} bytes went to the server, its replies are dropped",
                                burstBytes);
                        holding.countDown();
                    }
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the other direction closed the sockets, or the peer went away
        } finally {
            c.close();
        }
    }

    private void pumpDown(Connection c) {
        byte[] buf = new byte[8192];
        try (InputStream in = c.upstream.getInputStream(); OutputStream out = c.client.getOutputStream()) {
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                if (!c.dropReplies) {
                    out.write(buf, 0, n);
                    out.flush();
                }
            }
        } catch (IOException e) {
            // the other direction closed the sockets, or the peer went away
        } finally {
            c.close();
        }
    }

    private static void start(String name, Runnable body) {
        Thread t = new Thread(body, "proxy-" + name);
        t.setDaemon(true);
        t.start();
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : sockets) {
            closeQuietly(s);
        }
    }

    /** One proxied connection: the client's socket, the server's, and whether the server's bytes are dropped. */
    private static final class Connection {
        final Socket client;
        final Socket upstream;
        volatile boolean dropReplies;

        Connection(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void close() {
            closeQuietly(client);
            closeQuietly(upstream);
        }
    }
}
