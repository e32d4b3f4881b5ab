package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fault-injecting proxy itself: forwards small exchanges, cuts one large burst once, then forwards again. */
class CuttingTcpProxyTest {

    private ServerSocket echo;

    @BeforeEach
    void startEchoServer() throws IOException {
        echo = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!echo.isClosed()) {
                try {
                    Socket s = echo.accept();
                    Thread pump = new Thread(() -> {
                        try (s; InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
                            in.transferTo(out);
                        } catch (IOException ignored) {
                            // connection cut by the proxy
                        }
                    });
                    pump.setDaemon(true);
                    pump.start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
    }

    @AfterEach
    void stop() throws IOException {
        echo.close();
    }

    @Test
    void cutsTheFirstLargeBurstOnlyOnce() throws Exception {
        try (CuttingTcpProxy proxy = new CuttingTcpProxy("127.0.0.1", echo.getLocalPort(), 10_000)) {
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.getOutputStream().write(new byte[100]);
                assertThat(s.getInputStream().readNBytes(100)).hasSize(100);
                assertThat(proxy.cutHappened()).isFalse();
                assertThatThrownBy(() -> {
                    s.getOutputStream().write(new byte[50_000]);
                    s.getOutputStream().flush();
                    byte[] back = s.getInputStream().readNBytes(50_000);
                    if (back.length < 50_000) {
                        throw new IOException("stream ended after " + back.length + " bytes");
                    }
                }).isInstanceOf(IOException.class);
                assertThat(proxy.cutHappened()).isTrue();
            }
            try (Socket again = new Socket("127.0.0.1", proxy.port())) {
                again.getOutputStream().write(new byte[50_000]);
                assertThat(again.getInputStream().readNBytes(50_000)).hasSize(50_000);
            }
        }
    }

    @Test
    void holdsTheRepliesToTheFirstLargeBurstUntilCut() throws Exception {
        try (CuttingTcpProxy proxy = new CuttingTcpProxy("127.0.0.1", echo.getLocalPort(), 10_000,
                CuttingTcpProxy.Mode.HOLD_REPLIES)) {
            try (Socket s = new Socket("127.0.0.1", proxy.port())) {
                s.setSoTimeout(500);
                s.getOutputStream().write(new byte[100]);
                assertThat(s.getInputStream().readNBytes(100)).hasSize(100);
                s.getOutputStream().write(new byte[50_000]);
                s.getOutputStream().flush();
                assertThat(proxy.awaitHolding(java.time.Duration.ofSeconds(5))).isTrue();
                assertThat(proxy.cutHappened()).isFalse();
                // what the echo returned before the burst crossed the threshold comes back, the rest never does
                int returned = 0;
                try {
                    for (int n = s.getInputStream().read(new byte[8192]); n > 0; n = s.getInputStream().read(new byte[8192])) {
                        returned += n;
                    }
                } catch (java.net.SocketTimeoutException expected) {
                    // nothing more within the timeout
                }
                assertThat(returned).isLessThanOrEqualTo(10_000);
                proxy.cutHeld();
                assertThat(proxy.cutHappened()).isTrue();
                s.setSoTimeout(5000);
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            try (Socket again = new Socket("127.0.0.1", proxy.port())) {
                again.getOutputStream().write(new byte[50_000]);
                assertThat(again.getInputStream().readNBytes(50_000)).hasSize(50_000);
            }
        }
    }
}
