package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Bounded uploads in flight: by count and by declared bytes, first come first served, releases idempotent. */
class UploadAdmissionTest {

    private final List<String> admitted = new ArrayList<>();

    private UploadAdmission.Ticket admit(UploadAdmission a, String name, long bytes) {
        return a.admit(bytes, () -> admitted.add(name));
    }

    @Test
    void countLimitQueuesInArrivalOrder() {
        UploadAdmission a = new UploadAdmission(2, 1000);
        UploadAdmission.Ticket t1 = admit(a, "1", 10);
        admit(a, "2", 10);
        UploadAdmission.Ticket t3 = admit(a, "3", 10);
        admit(a, "4", 10);
        assertThat(admitted).containsExactly("1", "2");
        assertThat(a.queued()).isEqualTo(2);
        assertThat(t3.isAdmitted()).isFalse();
        t1.release();
        t1.release(); // a second release frees nothing more
        assertThat(admitted).containsExactly("1", "2", "3");
        assertThat(a.inFlight()).isEqualTo(2);
        assertThat(a.waitedTotal()).isEqualTo(2);
    }

    @Test
    void byteBudgetHoldsBackTheHeadAndNothingOvertakesIt() {
        UploadAdmission a = new UploadAdmission(10, 100);
        UploadAdmission.Ticket big = admit(a, "60", 60);
        admit(a, "50", 50);
        admit(a, "1", 1); // would fit, but the 50 came first
        assertThat(admitted).containsExactly("60");
        assertThat(a.bytesInFlight()).isEqualTo(60);
        big.release();
        assertThat(admitted).containsExactly("60", "50", "1");
        assertThat(a.bytesInFlight()).isEqualTo(51);
    }

    @Test
    void anUploadLargerThanTheBudgetIsAdmittedAlone() {
        UploadAdmission a = new UploadAdmission(10, 100);
        UploadAdmission.Ticket small = admit(a, "small", 10);
        admit(a, "huge", 500);
        assertThat(admitted).containsExactly("small");
        small.release();
        assertThat(admitted).containsExactly("small", "huge");
    }

    @Test
    void aWaitingUploadThatGivesUpLetsThoseBehindItIn() {
        UploadAdmission a = new UploadAdmission(10, 100);
        admit(a, "90", 90);
        UploadAdmission.Ticket head = admit(a, "20", 20);
        admit(a, "5", 5);
        assertThat(admitted).containsExactly("90");
        head.release(); // broke off while waiting
        assertThat(admitted).containsExactly("90", "5");
        assertThat(a.queued()).isZero();
    }
}
