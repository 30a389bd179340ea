import Foundation
import Support

/// A finished disk image, raw or qcow2, read and written at guest byte offsets without mounting
/// or attaching it: raw through pread/pwrite, qcow2 through qemu-img's `raw` driver with an
/// offset and size over the qcow2 file. Every operation touches only the range it names, so its
/// cost does not grow with the disk.
public final class DiskImage {
    public enum Format: String, Sendable {
        case raw, qcow2

        /// The first bytes of every qcow2 file, "QFI\xfb" (QEMU's docs/interop/qcow2.txt, "Header");
        /// raw images have no header, so anything else is raw.
        public static let qcow2Magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB]

        /// The format of the image at `url`, from its first bytes (a file shorter than the magic is raw).
        public init(of url: URL) throws {
            guard FileManager.default.fileExists(atPath: url.path) else { throw DiskImage.noSuchImage(url.path) }
            var magic = [UInt8](repeating: 0, count: Self.qcow2Magic.count)
            let file = try ImageFile(url, writable: false)
            let count = try magic.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
            self = count == magic.count && magic == Self.qcow2Magic ? .qcow2 : .raw
        }
    }

    /// The error when an image is not there; the generated QEMU script prints its text too.
    public static func noSuchImage(_ path: String) -> SupportError { SupportError(file: path, "no such image") }

    public let url: URL
    public let format: Format
    public let virtualSize: UInt64

    public init(_ url: URL) throws {
        self.url = url.standardizedFileURL
        format = try Format(of: url)
        switch format {
        case .raw:
            virtualSize = try ImageFile(url, writable: false).size
        case .qcow2:
            let info = try Command.run(["qemu-img", "info", "-f", "qcow2", "--output=json", url.path])
            guard let object = try JSONSerialization.jsonObject(with: info.standardOutput) as? [String: Any],
                  let size = (object["virtual-size"] as? NSNumber)?.uint64Value else {
                throw SupportError(file: url.path, "qemu-img info did not report a virtual size")
            }
            virtualSize = size
        }
    }

    /// The GPT, read from the first and last sectors only.
    public func readGPT() throws -> GPTDisk {
        switch format {
        case .raw:
            return try GPTReader.read(url)
        case .qcow2:
            // A sparse raw stand-in of the same size holding just the two GPT copies.
            let window = FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-gpt-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: window) }
            try ImageFile.createSparse(window, size: virtualSize)
            let reserved = DiskLayout.gptReservedSectors * DiskLayout.sectorSize
            let file = try ImageFile(window, writable: true)
            for offset in [0, virtualSize - reserved] {
                let bytes = try read(Int(reserved), at: offset)
                try bytes.withUnsafeBytes { try file.write($0, at: offset) }
            }
            return try GPTReader.read(window)
        }
    }

    public func read(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        let scratch = try temporaryFile()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try copy(count: UInt64(count), at: offset, to: scratch)
        return try ImageFile(scratch, writable: false).read(count, at: 0)
    }

    /// Copies `count` bytes at `offset` into a new raw file `destination`.
    public func copy(count: UInt64, at offset: UInt64, to destination: URL) throws {
        try checkRange(count, offset)
        switch format {
        case .raw:
            try ImageFile.createSparse(destination, size: count)
            let source = try ImageFile(url, writable: false), target = try ImageFile(destination, writable: true)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var done: UInt64 = 0
            while done < count {
                let length = Int(min(UInt64(buffer.count), count - done))
                let got = try buffer.withUnsafeMutableBytes {
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<length]), at: offset + done)
                }
                guard got == length else { throw SupportError(file: url.path, "short read at offset \(offset + done)") }
                // Zero blocks stay holes, so a mostly empty partition costs no disk space.
                if !Self.isZero(buffer, length) {
                    try buffer.withUnsafeBytes { try target.write(UnsafeRawBufferPointer(rebasing: $0[..<length]), at: done) }
                }
                done += UInt64(length)
            }
        case .qcow2:
            try runQemuImg(["convert", "-O", "raw", window(offset: offset, count: count), destination.path])
        }
    }

    private static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    /// True when the first `length` (at most 1 MiB) bytes are all zero.
    static func isZero(_ buffer: [UInt8], _ length: Int) -> Bool {
        buffer.withUnsafeBytes { bytes in zeros.withUnsafeBytes { memcmp(bytes.baseAddress!, $0.baseAddress!, length) == 0 } }
    }

    /// Writes `bytes` at `offset`; the caller syncs with `synchronize()` when a batch is complete.
    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try checkRange(UInt64(bytes.count), offset)
        switch format {
        case .raw:
            let file = try ImageFile(url, writable: true)
            try bytes.withUnsafeBytes { try file.write($0, at: offset) }
        case .qcow2:
            let scratch = try temporaryFile()
            defer { try? FileManager.default.removeItem(at: scratch) }
            try Data(bytes).write(to: scratch)
            try runQemuImg(["convert", "-n", "-f", "raw", "-O", "raw", scratch.path,
                            window(offset: offset, count: UInt64(bytes.count))])
        }
    }

    /// Writes the whole raw file `source` at `offset`. Zero blocks become holes (raw) or zero clusters
    /// (qcow2), so a mostly empty partition image costs no space.
    public func write(contentsOf source: URL, at offset: UInt64) throws {
        let input = try ImageFile(source, writable: false)
        let count = try input.size
        try checkRange(count, offset)
        switch format {
        case .raw:
            let target = try ImageFile(url, writable: true)
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            var done: UInt64 = 0
            while done < count {
                let length = Int(min(UInt64(buffer.count), count - done))
                _ = try buffer.withUnsafeMutableBytes { try input.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<length]), at: done) }
                if Self.isZero(buffer, length) {
                    try target.zero(UInt64(length), at: offset + done)
                } else {
                    try buffer.withUnsafeBytes { try target.write(UnsafeRawBufferPointer(rebasing: $0[..<length]), at: offset + done) }
                }
                done += UInt64(length)
            }
        case .qcow2:
            try runQemuImg(["convert", "-n", "-f", "raw", "-O", "raw", source.path, window(offset: offset, count: count)])
        }
    }

    /// Flushes written data to the disk (qemu-img flushes when it exits).
    public func synchronize() throws {
        let descriptor = open(url.path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw SupportError(file: url.path, "cannot open to sync") }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 { throw SupportError(file: url.path, "fsync failed: \(String(cString: strerror(errno)))") }
    }

    /// qemu-img's view of `count` bytes at `offset` of the qcow2 file as a raw image of its own.
    private func window(offset: UInt64, count: UInt64) -> String {
        let file = url.path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return #"json:{"driver":"raw","offset":\#(offset),"size":\#(count),"#
            + #""file":{"driver":"qcow2","file":{"driver":"file","filename":"\#(file)"}}}"#
    }

    private func runQemuImg(_ arguments: [String]) throws {
        do {
            try Command.run(["qemu-img"] + arguments)
        } catch let failure as CommandFailure {
            throw SupportError(file: url.path, "qemu-img \(arguments[0]) failed: \(failure.standardError)")
        }
    }

    private func checkRange(_ count: UInt64, _ offset: UInt64) throws {
        guard offset <= virtualSize, count <= virtualSize - offset else {
            throw SupportError(file: url.path, "\(count) bytes at offset \(offset) lie outside the \(virtualSize)-byte disk")
        }
    }

    private func temporaryFile() throws -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("coresdk-range-\(UUID().uuidString)")
    }
}
