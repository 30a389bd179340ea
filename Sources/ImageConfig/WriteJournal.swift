import Disk
import Foundation
import Support

/// Crash safety for in-place image edits. Before any byte of the image changes, the old bytes of
/// every range about to be written are saved next to it (`<image>.coresdk-journal`, complete
/// before it gets that name); the journal is removed once the new bytes are synced. If a write
/// is interrupted, the next coresdk command on the image puts the old bytes back.
public struct WriteJournal {
    public let image: DiskImage
    public var url: URL { image.url.appendingPathExtension("coresdk-journal") }
    private static let magic = Array("CORESDK-JOURNAL1".utf8)

    public init(image: DiskImage) { self.image = image }

    /// Writes `changes` (offset → new bytes) into the image, all or nothing.
    public func apply(_ changes: [(offset: UInt64, bytes: [UInt8])]) throws {
        try save(oldBytesOf: changes)
        for change in changes { try image.write(change.bytes, at: change.offset) }
        try image.synchronize()
        try FileManager.default.removeItem(at: url)
        try syncDirectory()
    }

    /// The journal of what `changes` would overwrite, synced before the first write.
    func save(oldBytesOf changes: [(offset: UInt64, bytes: [UInt8])]) throws {
        var journal = Self.magic
        for change in changes {
            let old = try image.read(change.bytes.count, at: change.offset)
            journal += Self.encode(UInt64(change.offset)) + Self.encode(UInt64(old.count)) + old
        }
        try AtomicFile.write(Data(journal), to: url)
        try syncDirectory()
    }

    /// Puts back what an interrupted `apply` was replacing. Returns true when there was something to undo.
    @discardableResult
    public func rollBackInterruptedWrite() throws -> Bool {
        guard let data = FileManager.default.contents(atPath: url.path) else { return false }
        let bytes = [UInt8](data)
        guard bytes.starts(with: Self.magic) else {
            throw SupportError(file: url.path, "not a coresdk journal; move it away to use \(image.url.path)")
        }
        var position = Self.magic.count
        var ranges: [(UInt64, [UInt8])] = []
        while position + 16 <= bytes.count {
            let offset = Self.decode(bytes, position), count = Int(Self.decode(bytes, position + 8))
            position += 16
            guard position + count <= bytes.count else { throw SupportError(file: url.path, "the journal is truncated") }
            ranges.append((offset, Array(bytes[position..<position + count])))
            position += count
        }
        for (offset, old) in ranges { try image.write(old, at: offset) }
        try image.synchronize()
        try FileManager.default.removeItem(at: url)
        return true
    }

    private func syncDirectory() throws {
        let descriptor = open(url.deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }

    private static func encode(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(value >> (8 * UInt64($0)) & 0xFF) } }
    private static func decode(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
    }
}
