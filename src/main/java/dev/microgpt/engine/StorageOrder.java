package dev.microgpt.engine;

import dev.microgpt.model.ParameterLayout;
import dev.microgpt.ops.Linear;

/**
 * How an engine arranges the layout's elements in its own arrays. Adam is elementwise, so an engine may keep
 * parameters, gradients and moments in any fixed permutation of the layout; only data crossing the engine's
 * interface is put back into layout order.
 */
interface StorageOrder {

    /** Layout order itself. */
    StorageOrder LAYOUT = new StorageOrder() {
        @Override
        public void fromLayout(double[] layoutOrder, double[] engineOrder) {
            System.arraycopy(layoutOrder, 0, engineOrder, 0, layoutOrder.length);
        }

        @Override
        public void toLayout(double[] engineOrder, double[] layoutOrder) {
            System.arraycopy(engineOrder, 0, layoutOrder, 0, engineOrder.length);
        }
    };

    void fromLayout(double[] layoutOrder, double[] engineOrder);

    void toLayout(double[] engineOrder, double[] layoutOrder);

    /**
     * Every matrix a linear layer multiplies by stored transposed at its own offset: lm_head as [C, V], each
     * layer's wq|wk|wv block as one [C, 3C], wo as [C, C], fc1 as [C, 4C], fc2 as [4C, C]. The embeddings stay
     * as they are (they are read by row).
     */
    static StorageOrder transposedLinears(ParameterLayout layout) {
        return new StorageOrder() {
            @Override
            public void fromLayout(double[] layoutOrder, double[] engineOrder) {
                System.arraycopy(layoutOrder, 0, engineOrder, 0, layoutOrder.length);
                forEachLinear((offset, rows, cols) -> Linear.transpose(layoutOrder, offset, engineOrder, offset, rows, cols));
            }

            @Override
            public void toLayout(double[] engineOrder, double[] layoutOrder) {
                System.arraycopy(engineOrder, 0, layoutOrder, 0, engineOrder.length);
                forEachLinear((offset, rows, cols) -> Linear.transpose(engineOrder, offset, layoutOrder, offset, cols, rows));
            }

            private void forEachLinear(MatrixVisitor visit) {
                int c = layout.config().nEmbd();
                int hidden = layout.config().mlpHidden();
                visit.matrix(layout.lmHead().offset(), layout.config().vocabSize(), c);
                for (ParameterLayout.Layer l : layout.layers()) {
                    visit.matrix(l.attnQkv().offset(), 3 * c, c);
                    visit.matrix(l.attnWo().offset(), c, c);
                    visit.matrix(l.mlpFc1().offset(), hidden, c);
                    visit.matrix(l.mlpFc2().offset(), c, hidden);
                }
            }
        };
    }

    /** A [rows, cols] matrix of the layout at {@code offset}. */
    @FunctionalInterface
    interface MatrixVisitor {
        void matrix(int offset, int rows, int cols);
    }
}
