import Foundation
import Support

/// An open disk or filesystem image read and written at byte offsets. Images are gigabytes and
/// mostly holes, so everything here works on ranges (pread/pwrite, holes via ftruncate and
/// FALLOC_FL_PUNCH_HOLE) and never streams whole files.
final class ImageFile {
    let url: URL
    private let descriptor: Int32

    /// Opens `url`; `create` also creates it (and empties an existing file, see `createSparse`).
    init(_ url: URL, writable: Bool, create: Bool = false) throws {
        self.url = url
        let flags = (writable ? O_RDWR : O_RDONLY) | (create ? O_CREAT | O_TRUNC : 0) | O_CLOEXEC
        descriptor = open(url.path, flags, 0o644)
        if descriptor < 0 { throw Self.failure("cannot open", url) }
    }

    deinit { close(descriptor) }

    /// A file of `size` bytes that reads as zeros and takes no space: truncating to 0 drops old
    /// content, extending creates one hole.
    static func createSparse(_ url: URL, size: UInt64) throws {
        let file = try ImageFile(url, writable: true, create: true)
        if ftruncate(file.descriptor, off_t(size)) != 0 { throw failure("cannot resize to \(size) bytes", url) }
    }

    var size: UInt64 {
        get throws {
            var info = stat()
            if fstat(descriptor, &info) != 0 { throw Self.failure("cannot stat", url) }
            return UInt64(info.st_size)
        }
    }

    func read(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        guard got == count else {
            throw SupportError(file: url.path, "expected \(count) bytes at offset \(offset), the file ends after \(got)")
        }
        return bytes
    }

    /// Fills `buffer` from `offset`; returns fewer bytes only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try repeatUntilDone(buffer.count, at: offset, "read") { done, position in
            pread(descriptor, buffer.baseAddress! + done, buffer.count - done, position)
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let written = try repeatUntilDone(buffer.count, at: offset, "write") { done, position in
            pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, position)
        }
        guard written == buffer.count else { throw Self.failure("short write at offset \(offset)", url) }
    }

    /// Calls a pread/pwrite-style `transfer(done, position)` until `count` bytes are done or it
    /// returns 0 (end of file): both may transfer less than asked, and signals interrupt them.
    private func repeatUntilDone(_ count: Int, at offset: UInt64, _ what: String,
                                 _ transfer: (Int, off_t) -> Int) throws -> Int {
        var done = 0
        while done < count {
            let n = transfer(done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure("cannot \(what) at offset \(offset)", url)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Makes `count` bytes at `offset` read as zeros, as holes where the filesystem can punch them.
    func zero(_ count: UInt64, at offset: UInt64) throws {
        if let fallocate = Self.fallocate() {
            // FALLOC_FL_PUNCH_HOLE (0x02) must be paired with FALLOC_FL_KEEP_SIZE (0x01).
            if fallocate(descriptor, 0x03, off_t(offset), off_t(count)) == 0 { return }
            guard errno == EOPNOTSUPP else {
                throw Self.failure("cannot punch a hole of \(count) bytes at offset \(offset)", url)
            }
        }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var done: UInt64 = 0
        while done < count {
            let length = Int(min(UInt64(zeros.count), count - done))
            try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[..<length]), at: offset + done) }
            done += UInt64(length)
        }
    }

    /// glibc's fallocate(2) wrapper (and the SEEK_DATA/SEEK_HOLE values below) are declared only
    /// under _GNU_SOURCE, which Swift's Glibc module does not define; the symbol and values are
    /// stable Linux ABI, so they are looked up and spelled out here.
    private typealias Fallocate = @convention(c) (Int32, Int32, off_t, off_t) -> Int32
    private static func fallocate() -> Fallocate? {
        dlsym(dlopen(nil, RTLD_NOW), "fallocate").map { unsafeBitCast($0, to: Fallocate.self) }
    }
    private static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// The data ranges of the file (SEEK_DATA/SEEK_HOLE), so copies skip a sparse source's holes
    /// without reading them. Filesystems without hole tracking report one range, the whole file.
    func dataRanges() throws -> [Range<UInt64>] {
        let end = try size
        var ranges: [Range<UInt64>] = []
        var offset: UInt64 = 0
        while offset < end {
            let data = lseek(descriptor, off_t(offset), Self.seekData)
            if data < 0 {
                if errno == ENXIO { break }
                throw Self.failure("cannot look for data after offset \(offset)", url)
            }
            let hole = lseek(descriptor, data, Self.seekHole)
            if hole < 0 { throw Self.failure("cannot look for a hole after offset \(data)", url) }
            ranges.append(UInt64(data)..<UInt64(hole))
            offset = UInt64(hole)
        }
        return ranges
    }

    private static func failure(_ what: String, _ url: URL) -> SupportError {
        SupportError(file: url.path, "\(what): \(String(cString: strerror(errno)))")
    }
}
