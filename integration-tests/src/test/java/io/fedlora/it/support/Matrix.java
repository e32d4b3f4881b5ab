package io.fedlora.it.support;

/** A small dense row-major double matrix with the few operations the exactness checks need. */
public record Matrix(int rows, int cols, double[] values) {

    public Matrix {
        if (values.length != rows * cols) {
            throw new IllegalArgumentException(values.length + " values for a " + rows + "x" + cols + " matrix");
        }
    }

    public static Matrix zeros(int rows, int cols) {
        return new Matrix(rows, cols, new double[rows * cols]);
    }

    public double get(int r, int c) {
        return values[r * cols + c];
    }

    public Matrix times(Matrix other) {
        if (cols != other.rows) {
            throw new IllegalArgumentException("cannot multiply " + shape() + " by " + other.shape());
        }
        double[] out = new double[rows * other.cols];
        for (int i = 0; i < rows; i++) {
            for (int k = 0; k < cols; k++) {
                double a = values[i * cols + k];
                if (a == 0) {
                    continue;
                }
                for (int j = 0; j < other.cols; j++) {
                    out[i * other.cols + j] += a * other.values[k * other.cols + j];
                }
            }
        }
        return new Matrix(rows, other.cols, out);
    }

    /** {@code this + factor * other}. */
    public Matrix plus(Matrix other, double factor) {
        requireSameShape(other);
        double[] out = values.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] += factor * other.values[i];
        }
        return new Matrix(rows, cols, out);
    }

    public Matrix scaled(double factor) {
        double[] out = values.clone();
        for (int i = 0; i < out.length; i++) {
            out[i] *= factor;
        }
        return new Matrix(rows, cols, out);
    }

    public Matrix transpose() {
        double[] out = new double[values.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[j * rows + i] = values[i * cols + j];
            }
        }
        return new Matrix(cols, rows, out);
    }

    public double frobenius() {
        double sum = 0;
        for (double v : values) {
            sum += v * v;
        }
        return Math.sqrt(sum);
    }

    /** {@code ||this - other||_F}. */
    public double distance(Matrix other) {
        return plus(other, -1).frobenius();
    }

    public String shape() {
        return rows + "x" + cols;
    }

    private void requireSameShape(Matrix other) {
        if (rows != other.rows || cols != other.cols) {
            throw new IllegalArgumentException("shape " + shape() + " differs from " + other.shape());
        }
    }
}
