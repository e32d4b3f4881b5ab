package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ExportSlotsTest {

    @Test
    void givesAtMostMaxSlotsAndEachCloseReleasesOnce() {
        ExportSlots slots = new ExportSlots(2);
        ExportSlots.Slot a = slots.tryAcquire().orElseThrow();
        ExportSlots.Slot b = slots.tryAcquire().orElseThrow();
        assertThat(slots.tryAcquire()).as("both taken").isEmpty();
        a.close();
        a.close(); // a second close must not free a slot it does not hold
        ExportSlots.Slot c = slots.tryAcquire().orElseThrow();
        assertThat(slots.tryAcquire()).isEmpty();
        b.close();
        c.close();
    }

    @Test
    void refusesANonPositiveLimit() {
        assertThatThrownBy(() -> new ExportSlots(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("fedlora.export.max-concurrent");
    }
}
