package io.fedlora.aggregation.strategy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

class FactorStoreTest {

    @Test
    void everyClientsFactorsReadBackAcrossBlocks() {
        int aLen = 6;
        int bLen = 10;
        FactorStore store = new FactorStore(aLen, bLen);
        int clients = 2 * FactorStore.CLIENTS_PER_BLOCK + 3;
        for (int i = 0; i < clients; i++) {
            assertThat(store.add(values(i, 0, aLen), values(i, 1, bLen))).isEqualTo(i);
        }
        assertThat(store.size()).isEqualTo(clients);
        for (int i = clients - 1; i >= 0; i--) {
            assertThat(read(store.a(i))).as("A of client %d", i).containsExactly(values(i, 0, aLen));
            assertThat(read(store.b(i))).as("B of client %d", i).containsExactly(values(i, 1, bLen));
        }
        store.clear();
        assertThat(store.size()).isZero();
        assertThatThrownBy(() -> store.a(0)).isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(store.add(values(7, 0, aLen), values(7, 1, bLen))).as("usable again after clear").isZero();
        assertThat(read(store.b(0))).containsExactly(values(7, 1, bLen));
        store.clear();
    }

    @Test
    void refusesFactorsOfTheWrongSize() {
        FactorStore store = new FactorStore(4, 4);
        assertThatThrownBy(() -> store.add(new float[3], new float[4])).isInstanceOf(IllegalArgumentException.class);
        assertThat(store.size()).isZero();
    }

    private static float[] values(int client, int which, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = client * 1000 + which * 100 + i + 0.5f;
        }
        return v;
    }

    private static float[] read(FloatBuffer b) {
        float[] out = new float[b.remaining()];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.get(i);
        }
        return out;
    }
}
