package io.fedlora.agent.model.ops;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The fp32 tanh approximation against Math.tanh over the range GELU feeds it. */
class GeluNewTest {

    @Test
    void fastTanhIsFloatAccurate() {
        double worst = 0;
        for (double z = -12; z <= 12; z += 1e-3) {
            worst = Math.max(worst, Math.abs(GeluNew.tanhFloat(z) - Math.tanh(z)));
        }
        assertThat(worst).isLessThan(3e-7);
        assertThat(Math.abs(GeluNew.tanh(0.3) - Math.tanh(0.3))).isLessThan(1e-15);
    }
}
