package io.vectorstream.index.device;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

class DevicePlacementTest {

    private final DevicePlacement placement = new DevicePlacement(List.of(
            new DevicePlacement.DeviceBudget(0, "gpu0", 1000), new DevicePlacement.DeviceBudget(1, "gpu1", 600)));

    @Test
    void spreadsShardsToTheDeviceWithMostRoomAndKeepsTheRestOnCpu() {
        assertThat(placement.place("s0", 500).device()).isEqualTo(0);
        assertThat(placement.place("s1", 400).device()).isEqualTo(1);
        assertThat(placement.place("s2", 300).device()).isEqualTo(0);
        DevicePlacement.Placement big = placement.place("s3", 900);
        assertThat(big.onCpu()).isTrue();
        assertThat(big.reason()).contains("more than any device has left");
        assertThat(placement.usedBytes(0)).isEqualTo(800);
        assertThat(placement.placements()).extracting(DevicePlacement.Placement::shard).containsExactly("s0", "s1", "s2", "s3");
    }

    @Test
    void growingPastTheBudgetMovesTheShardToCpu() {
        placement.place("s0", 500);
        assertThat(placement.grow("s0", 900)).isTrue();
        assertThat(placement.grow("s0", 1100)).isFalse();
        assertThat(placement.placements().get(0).onCpu()).isTrue();
        assertThat(placement.usedBytes(0)).isZero();
        placement.release("s0");
        assertThat(placement.placements()).isEmpty();
    }

    @Test
    void noDevicesMeansCpu() {
        assertThat(new DevicePlacement(List.of()).place("s", 1).onCpu()).isTrue();
    }
}
