package io.fedlora.it.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loopback TCP proxy that forwards bytes both ways and, once, cuts a connection in the middle of an
 * upload: when a connection sends more than {@code burstBytes} towards the server in one burst (reads
 * less than 200 ms apart; heartbeats and polls are far smaller), it forwards that much and then
 * closes both sockets. Later connections are left alone, so the client's retry can succeed.
 */
public final class CuttingTcpProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(CuttingTcpProxy.class);
    private static final long BURST_GAP_NANOS = 200_000_000L;

    private final ServerSocket server;
    private final String targetHost;
    private final int targetPort;
    private final long burstBytes;
    private final AtomicBoolean cut = new AtomicBoolean();
    private final AtomicBoolean armed = new AtomicBoolean(true);
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    public CuttingTcpProxy(String targetHost, int targetPort, long burstBytes) throws IOException {
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.targetHost = targetHost;
        this.targetPort = targetPort;
        this.burstBytes = burstBytes;
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

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                Socket upstream = new Socket(targetHost, targetPort);
                client.setTcpNoDelay(true);
                upstream.setTcpNoDelay(true);
                sockets.add(client);
                sockets.add(upstream);
                start("up", () -> pump(client, upstream, true));
                start("down", () -> pump(upstream, client, false));
            } catch (IOException e) {
                if (!server.isClosed()) {
                    log.warn("proxy accept failed: {}", e.toString());
                }
            }
        }
    }

    private void pump(Socket from, Socket to, boolean towardsServer) {
        byte[] buf = new byte[8192];
        long burst = 0;
        long lastRead = 0;
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
                if (towardsServer && armed.get()) {
                    long now = System.nanoTime();
                    burst = now - lastRead > BURST_GAP_NANOS ? n : burst + n;
                    lastRead = now;
                    if (burst > burstBytes && armed.compareAndSet(true, false)) {
                        int keep = (int) Math.max(0, n - (burst - burstBytes));
                        out.write(buf, 0, keep);
                        out.flush();
                        log.info("cutting the connection after a {}-byte burst towards the server", burstBytes);
                        cut.set(true);
                        closeQuietly(from);
                        closeQuietly(to);
                        return;
                    }
                }
                out.write(buf, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // the other direction closed the sockets, or the peer went away
        } finally {
            closeQuietly(from);
            closeQuietly(to);
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
}
