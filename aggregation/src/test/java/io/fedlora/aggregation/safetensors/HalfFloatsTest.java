package io.fedlora.aggregation.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfFloatsTest {

    private static int bf16(float f) {
        return HalfFloats.floatToBf16(f) & 0xFFFF;
    }

    private static int half(float f) {
        return HalfFloats.floatToHalf(f) & 0xFFFF;
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(bf16(1.0f)).isEqualTo(0x3F80);
        assertThat(bf16(-2.0f)).isEqualTo(0xC000);
        assertThat(bf16(Float.intBitsToFloat(0x3F808000))).isEqualTo(0x3F80); // tie, even stays
        assertThat(bf16(Float.intBitsToFloat(0x3F818000))).isEqualTo(0x3F82); // tie, odd rounds up
        assertThat(bf16(Float.intBitsToFloat(0x3F808001))).isEqualTo(0x3F81); // above half
        assertThat(bf16(Float.intBitsToFloat(0x3F807FFF))).isEqualTo(0x3F80); // below half
        assertThat(bf16(Float.intBitsToFloat(0x7F7FFFFF))).isEqualTo(0x7F80); // max float rounds to inf
        assertThat(bf16(Float.POSITIVE_INFINITY)).isEqualTo(0x7F80);
        assertThat(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.NaN)))).isTrue();
        assertThat(bf16(3.140625f)).isEqualTo(0x4049);
    }

    @Test
    void halfRoundsToNearestEvenWithSubnormals() {
        assertThat(half(1.0f)).isEqualTo(0x3C00);
        assertThat(half(-2.0f)).isEqualTo(0xC000);
        assertThat(half(65504f)).isEqualTo(0x7BFF);
        assertThat(half(65519f)).isEqualTo(0x7BFF);
        assertThat(half(65520f)).isEqualTo(0x7C00); // tie at the top rounds to even = infinity
        assertThat(half(0.1f)).isEqualTo(0x2E66);
        assertThat(half(1f / 3f)).isEqualTo(0x3555);
        assertThat(half(0x1p-24f)).isEqualTo(0x0001); // smallest subnormal
        assertThat(half(0x1p-25f)).isEqualTo(0x0000); // tie between 0 and 1 ulp: even
        assertThat(half(0x1.8p-25f)).isEqualTo(0x0001); // 0.75 ulp rounds up
        assertThat(half(0x1.8p-24f)).isEqualTo(0x0002); // 1.5 ulp: tie, rounds to even 2
        assertThat(half(0x1p-14f)).isEqualTo(0x0400); // smallest normal
        assertThat(half(Float.intBitsToFloat(0x3F801000))).isEqualTo(0x3C00); // tie in the normal range: even
        assertThat(half(Float.intBitsToFloat(0x3F803000))).isEqualTo(0x3C02); // tie, odd rounds up
        assertThat(half(1e-10f)).isEqualTo(0x0000);
        assertThat(half(-0.0f)).isEqualTo(0x8000);
        assertThat(half(Float.NEGATIVE_INFINITY)).isEqualTo(0xFC00);
        assertThat(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(Float.NaN)))).isTrue();
    }

    @Test
    void everyHalfAndBf16PatternRoundTrips() {
        for (int bits = 0; bits <= 0xFFFF; bits++) {
            short h = (short) bits;
            float f = HalfFloats.halfToFloat(h);
            if (!Float.isNaN(f)) {
                assertThat(half(f)).as("half %04x", bits).isEqualTo(bits);
            }
            float g = HalfFloats.bf16ToFloat(h);
            if (!Float.isNaN(g)) {
                assertThat(bf16(g)).as("bf16 %04x", bits).isEqualTo(bits);
            }
        }
        assertThat(HalfFloats.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(HalfFloats.halfToFloat((short) 0x3555)).isEqualTo(0.333251953125f);
    }
}
