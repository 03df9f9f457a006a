package io.vectorstream.index;

import io.vectorstream.kernels.Metric;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** How many lists an index trains for n vectors: √n for the hot IVF-Flat; ~256 codes a list for an IVF-PQ base. */
class IndexConfigTest {

    @Test
    void theHotIndexTrainsSquareRootLists() {
        IndexConfig auto = IndexConfig.of(16, Metric.L2);
        assertThat(auto.nlistFor(500_000)).isEqualTo(707);
        assertThat(auto.nlistFor(40)).isEqualTo(6);
        assertThat(auto.nlistFor(8)).as("at least four vectors a list").isEqualTo(2);
    }

    @Test
    void aBaseTrainsListsOfAbout256CodesBetweenRootNAndFourRootN() {
        IndexConfig auto = IndexConfig.of(16, Metric.L2);
        assertThat(auto.baseNlistFor(500_000)).isEqualTo(1953);      // n / 256
        assertThat(auto.baseNlistFor(100_000)).isEqualTo(391);       // n / 256
        assertThat(auto.baseNlistFor(10_000_000)).isEqualTo(12649);  // capped at 4√n
        assertThat(auto.baseNlistFor(3_000)).isEqualTo(55);          // at least √n
        assertThat(auto.baseNlistFor(1)).isEqualTo(1);
        IndexConfig fixed = new IndexConfig(16, Metric.L2, 300, 1000, 8, 42L);
        assertThat(fixed.baseNlistFor(500_000)).as("--nlist applies to both").isEqualTo(300);
    }
}
