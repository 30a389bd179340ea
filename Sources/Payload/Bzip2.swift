import CBZip2

/// bzip2 through libbz2, as update_engine's generator and client use it: one stream per blob.
public enum Bzip2 {
    /// Level 9 (900 KB blocks), workFactor 0: what delta_generator passes.
    public static func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard input.count <= Int(UInt32.max) else { throw Bzip2Error.inputTooLarge(input.count) }
        // bzip2's documented bound: 1% + 600 bytes more than the input.
        var capacity = UInt32(input.count + input.count / 100 + 600)
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = withSource(input) { source in
            output.withUnsafeMutableBytes { target in
                BZ2_bzBuffToBuffCompress(target.baseAddress!.assumingMemoryBound(to: CChar.self), &capacity,
                                         source, UInt32(input.count), 9, 0, 0)
            }
        }
        guard status == BZ_OK else { throw Bzip2Error.library(status, "compressing \(input.count) bytes") }
        return Array(output.prefix(Int(capacity)))
    }

    /// Decompresses exactly one bzip2 stream into at most `limit` bytes — what the manifest says
    /// the operation writes — so a damaged or hostile payload cannot make the reader allocate more.
    public static func decompress(_ input: some Collection<UInt8>, limit: Int) throws -> [UInt8] {
        let input = Array(input)
        let limit = max(0, min(limit, Int.max - 1))
        var stream = bz_stream()
        let status = BZ2_bzDecompressInit(&stream, 0, 0)
        guard status == BZ_OK else { throw Bzip2Error.library(status, "starting to decompress") }
        defer { BZ2_bzDecompressEnd(&stream) }
        return try input.withUnsafeBytes { input in
            guard input.count <= Int(UInt32.max) else { throw Bzip2Error.inputTooLarge(input.count) }
            return try withSource(input) { source in
                stream.next_in = source
                stream.avail_in = UInt32(input.count)
                var output: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: min(limit + 1, 1 << 20))
                while true {
                    // One byte of room past the limit tells "exactly the limit" from "more".
                    let room = min(buffer.count, limit + 1 - output.count)
                    let status = buffer.withUnsafeMutableBytes { target in
                        stream.next_out = target.baseAddress!.assumingMemoryBound(to: CChar.self)
                        stream.avail_out = UInt32(room)
                        return BZ2_bzDecompress(&stream)
                    }
                    let produced = room - Int(stream.avail_out)
                    output += buffer[0..<produced]
                    guard output.count <= limit else { throw Bzip2Error.largerThan(limit) }
                    switch status {
                    case BZ_STREAM_END:
                        // update_engine's BzipExtentWriter refuses input left after the stream.
                        guard stream.avail_in == 0 else { throw Bzip2Error.trailingData(Int(stream.avail_in)) }
                        return output
                    case BZ_OK:
                        if stream.avail_in == 0 && produced == 0 { throw Bzip2Error.truncated(input.count) }
                    case BZ_DATA_ERROR_MAGIC: throw Bzip2Error.notBzip2
                    case BZ_DATA_ERROR: throw Bzip2Error.corrupt(after: Int(stream.total_in_lo32))
                    default: throw Bzip2Error.library(status, "decompressing")
                    }
                }
            }
        }
    }

    /// libbz2 takes no null pointer, not even for no bytes; it never writes through the source.
    private static func withSource<Result>(_ input: UnsafeRawBufferPointer,
                                           _ body: (UnsafeMutablePointer<CChar>) throws -> Result) rethrows -> Result {
        guard let base = input.baseAddress else {
            var nothing: CChar = 0
            return try body(&nothing)
        }
        return try body(UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: CChar.self)))
    }
}

/// Why bzip2 data could not be made or read; the text completes "the data ...".
public enum Bzip2Error: Error, Equatable, CustomStringConvertible {
    case notBzip2
    /// A block's data or CRC is wrong, found after reading this many bytes.
    case corrupt(after: Int)
    /// The data, this many bytes, ends before the stream's end-of-stream marker.
    case truncated(Int)
    /// This many bytes follow the end of the stream.
    case trailingData(Int)
    case largerThan(Int)
    case inputTooLarge(Int)
    case library(Int32, String)

    public var description: String {
        switch self {
        case .notBzip2: return "is not bzip2 (no BZh header)"
        case .corrupt(let offset): return "is corrupt: a bzip2 block's data or CRC is wrong (found \(offset) bytes in)"
        case .truncated(0): return "is empty, not a bzip2 stream"
        case .truncated(let count): return "is truncated: its \(count) bytes end before the bzip2 stream does"
        case .trailingData(let count): return "has \(count) bytes after the end of its bzip2 stream"
        case .largerThan(let limit): return "decompresses to more than \(limit) bytes"
        case .inputTooLarge(let count): return "is \(count) bytes, more than libbz2 takes at once (4 GiB)"
        case .library(let status, let doing):
            return "could not be processed: libbz2 failed \(doing) (status \(status)\(status == BZ_MEM_ERROR ? ", out of memory" : ""))"
        }
    }
}
