package io.vectorstream.kernels.cuda;

import jcuda.driver.CUdeviceptr;

/** A device pointer whose raw address can be read, for the device-side tables of list pointers. */
final class DevicePointer extends CUdeviceptr {
    long address() {
        return getNativePointer() + getByteOffset();
    }
}
