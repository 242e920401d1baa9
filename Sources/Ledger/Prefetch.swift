/// A hint to the processor to start loading a cache line that will be read soon; it changes no
/// value and cannot fault. The rules spend most of their time waiting on memory for ids drawn at
/// random from tables of millions, one transaction after another; asking early for what the next
/// transactions will read lets those loads overlap the work in hand.
///
/// LLVM's own intrinsic (`prefetch` for reading, high locality, data cache), named directly: the
/// standard library offers no way to spell it.
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ dataCache: Int32)

@inline(__always)
func prefetch(_ address: UnsafeRawPointer) {
    llvmPrefetch(address, 0, 3, 1)
}
