import Crypto
import Foundation

/// Streaming SHA-256/SHA-512 of files and data, as lowercase hex.
public enum Digests {
    public static func sha256(_ data: Data) -> String { hex(SHA256.hash(data: data)) }
    public static func sha256(_ text: String) -> String { sha256(Data(text.utf8)) }

    public static func sha256(file url: URL) throws -> String {
        var hasher = SHA256()
        try forEachChunk(of: url) { hasher.update(data: $0) }
        return hex(hasher.finalize())
    }

    public static func sha512(file url: URL) throws -> String {
        var hasher = SHA512()
        try forEachChunk(of: url) { hasher.update(data: $0) }
        return hex(hasher.finalize())
    }

    /// Both digests in one read of the file: images are gigabytes.
    public static func sha256And512(file url: URL) throws -> (sha256: String, sha512: String) {
        var h256 = SHA256(), h512 = SHA512()
        try forEachChunk(of: url) { h256.update(data: $0); h512.update(data: $0) }
        return (hex(h256.finalize()), hex(h512.finalize()))
    }

    public static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    private static func forEachChunk(of url: URL, _ body: (Data) -> Void) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { body(chunk) }
    }
}

/// Accumulates the inputs of a cache key in a fixed order, so equal inputs give equal keys.
public struct ContentKey {
    private var hasher = SHA256()
    public init(_ kind: String) { add("kind", kind) }

    public mutating func add(_ name: String, _ value: String) {
        hasher.update(data: Data("\(name.utf8.count):\(name)=\(value.utf8.count):\(value)\n".utf8))
    }

    public mutating func add(_ name: String, fileAt url: URL) throws {
        add(name, try Digests.sha256(file: url))
    }

    public var value: String { Digests.hex(hasher.finalize()) }
}
