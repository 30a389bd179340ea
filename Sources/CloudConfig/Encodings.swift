import CZlib
import Codecs

/// The `write_files` encodings coreos-cloudinit accepts, and user-data's own gzip wrapping.
public enum ContentEncoding: Sendable, Equatable {
    case plain, base64, gzip, gzipBase64

    /// Every spelling of the `encoding` key; anything else is an invalid value.
    public init?(_ name: String) {
        switch name {
        case "": self = .plain
        case "b64", "base64": self = .base64
        case "gz", "gzip": self = .gzip
        case "gz+b64", "gz+base64", "gzip+b64", "gzip+base64": self = .gzipBase64
        default: return nil
        }
    }

    public func decode(_ content: [UInt8]) -> [UInt8]? {
        switch self {
        case .plain: content
        case .base64: Base64.decode(content)
        case .gzip: Gzip.decompress(content)
        case .gzipBase64: Base64.decode(content).flatMap(Gzip.decompress)
        }
    }
}

public enum Gzip {
    public static func isCompressed(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// Inflates a gzip stream (all members); nil when it is damaged or truncated.
    public static func decompress(_ input: [UInt8]) -> [UInt8]? {
        guard isCompressed(input) else { return nil }
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer, not a raw zlib stream.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return nil
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = input
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { target -> Int in
                    stream.next_out = target.baseAddress
                    stream.avail_out = uInt(target.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return target.count - Int(stream.avail_out)
                }
                output += chunk.prefix(produced)
                // A further gzip member follows the first one's trailer.
                if status == Z_STREAM_END, stream.avail_in > 0 { status = inflateReset(&stream) }
            } while status == Z_OK
        }
        return status == Z_STREAM_END ? output : nil
    }
}
