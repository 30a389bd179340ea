import CBZip2

/// bzip2 through libbz2, as update_engine's generator and client use it.
enum Bzip2 {
    /// Level 9 (900 KB blocks), workFactor 0: what delta_generator passes.
    static func compress(_ input: UnsafeRawBufferPointer) -> [UInt8] {
        // bzip2's documented bound: 1% + 600 bytes more than the input.
        var capacity = UInt32(input.count + input.count / 100 + 600)
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBytes { target in
            BZ2_bzBuffToBuffCompress(target.baseAddress!.assumingMemoryBound(to: CChar.self), &capacity,
                                     UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: CChar.self)),
                                     UInt32(input.count), 9, 0, 0)
        }
        precondition(status == BZ_OK, "bzip2 compression failed with status \(status)")
        return Array(output.prefix(Int(capacity)))
    }

    /// Decompresses into exactly `expectedSize` bytes at most; nil when the data is damaged or larger.
    static func decompress(_ input: ArraySlice<UInt8>, expectedSize: Int) -> [UInt8]? {
        var capacity = UInt32(expectedSize)
        var output = [UInt8](repeating: 0, count: expectedSize)
        var source = Array(input)
        let status = output.withUnsafeMutableBytes { target in
            source.withUnsafeMutableBytes { source in
                BZ2_bzBuffToBuffDecompress(target.baseAddress!.assumingMemoryBound(to: CChar.self), &capacity,
                                           source.baseAddress!.assumingMemoryBound(to: CChar.self), UInt32(source.count), 0, 0)
            }
        }
        return status == BZ_OK ? Array(output.prefix(Int(capacity))) : nil
    }
}
