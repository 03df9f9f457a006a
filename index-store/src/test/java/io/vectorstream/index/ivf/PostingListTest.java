package io.vectorstream.index.ivf;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class PostingListTest {
    private static final int DIM = 3;

    @Test
    void growingKeepsEveryRowInPlaceAndNeverCopiesAFullChunk() {
        float[][] chunks = new float[0][];
        int size = 0;
        float[] firstFullChunk = null;
        for (int step : new int[] {1, 5, 2, 60, 1, 64, 200, 3}) {
            float[][] before = chunks;
            chunks = PostingList.withRoomFor(chunks, size + step, DIM);
            assertThat(PostingList.capacityRows(chunks, DIM)).isGreaterThanOrEqualTo(size + step);
            if (before.length > 0 && chunks != before) assertThat(chunks).as("a new chunk array, not the readers'").isNotSameAs(before);
            for (int r = size; r < size + step; r++) {
                for (int d = 0; d < DIM; d++) chunks[r >>> PostingList.CHUNK_SHIFT][PostingList.offsetOf(r, DIM) + d] = r * 10 + d;
            }
            size += step;
            if (firstFullChunk == null && chunks.length > 1) firstFullChunk = chunks[1];
            if (firstFullChunk != null) assertThat(chunks[1]).as("full chunks are kept, not copied").isSameAs(firstFullChunk);
            PostingList list = new PostingList(chunks, new int[size], size, null);
            float[] row = new float[DIM];
            for (int r = 0; r < size; r++) {
                list.copyRow(r, row, 0, DIM);
                assertThat(row).containsExactly(r * 10, r * 10 + 1, r * 10 + 2);
            }
        }
        assertThat(chunks.length).isEqualTo((size + PostingList.CHUNK_ROWS - 1) / PostingList.CHUNK_ROWS);
    }

    @Test
    void aShortListHoldsASmallFirstChunk() {
        float[][] chunks = PostingList.withRoomFor(new float[0][], 3, DIM);
        assertThat(chunks).hasNumberOfRows(1);
        assertThat(chunks[0].length).isEqualTo(8 * DIM);
        assertThat(PostingList.withRoomFor(chunks, 8, DIM)).isSameAs(chunks);
        assertThat(PostingList.withRoomFor(chunks, 9, DIM)[0].length).isEqualTo(16 * DIM);
    }

    @Test
    void contiguousRunsCoverTheListOnceAndStopAtItsSize() {
        int size = 2 * PostingList.CHUNK_ROWS + 5;
        float[] rows = new float[size * DIM];
        for (int i = 0; i < rows.length; i++) rows[i] = i;
        PostingList list = new PostingList(PostingList.chunked(rows, size, DIM), new int[size], size, null);
        int covered = 0, runs = 0;
        for (int r = 0; r < size; runs++) {
            int run = list.contiguousRows(r);
            assertThat(list.chunkOf(r)[PostingList.offsetOf(r, DIM)]).isEqualTo(r * DIM);
            assertThat(list.chunkOf(r + run - 1)).isSameAs(list.chunkOf(r));
            covered += run;
            r += run;
        }
        assertThat(covered).isEqualTo(size);
        assertThat(runs).isEqualTo(3);
        HotLists view = new HotLists(new PostingList[] {list}, DIM);
        assertThat(view.contiguousRows(0, PostingList.CHUNK_ROWS - 1)).isEqualTo(1);
        assertThat(view.rowArray(0, PostingList.CHUNK_ROWS)[view.rowOffset(0, PostingList.CHUNK_ROWS)])
                .isEqualTo(PostingList.CHUNK_ROWS * DIM);
    }
}
