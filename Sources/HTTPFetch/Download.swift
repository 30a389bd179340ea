#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension HTTPFetcher {
    /// Streams `url`'s body into the file at `path`, resuming where the file ends: bytes already
    /// there (from an earlier run) or written before a connection broke are asked for again with
    /// `Range: bytes=<size>-`. A server that answers 200 instead of 206 sends everything, so the
    /// file starts over. Transient failures (`HTTPError.isTransient`) are retried up to `retries`
    /// times, `retryDelay` seconds apart; update_engine's values are the defaults. `progress`
    /// gets the file's size after each write.
    public func download(url: String, to path: String, expectedSize: UInt64?, retries: Int = 20, retryDelay: Int = 20,
                         progress: ((UInt64) -> Void)? = nil) throws(HTTPError) {
        let file = try OutputFile(path: path)
        if let expectedSize, file.size > expectedSize { try file.truncate() }
        var failures = 0
        while true {
            do {
                try resume(url: url, into: file, expectedSize: expectedSize, progress: progress)
                return
            } catch {
                guard error.isTransient, failures < retries else { throw error }
                failures += 1
                sleep(UInt32(clamping: retryDelay))
            }
        }
    }

    /// One attempt: from the file's end to the body's end.
    private func resume(url: String, into file: OutputFile, expectedSize: UInt64?, progress: ((UInt64) -> Void)?) throws(HTTPError) {
        if let expectedSize, file.size == expectedSize { return }
        let offset = file.size
        var request = HTTPRequest(url: url)
        if offset > 0 { request.headers.append(("Range", "bytes=\(offset)-")) }
        var response = try open(request)
        let (head, source) = (response.head, response.url.description)
        var declaredSize: UInt64?
        switch head.status {
        case 206 where offset > 0:
            // `bytes <first>-<last>/<complete length>` (RFC 9110 §14.4).
            guard let range = head.headers.value(of: "Content-Range"), let parsed = Self.parseContentRange(range), parsed.first == offset else {
                throw .malformedResponse(url: source, reason: "206 without a Content-Range from byte \(offset)")
            }
            declaredSize = parsed.complete
        case 200:
            if offset > 0 { try file.truncate() }
            if case .length(let length) = response.framing { declaredSize = UInt64(length) }
        case 416 where offset > 0:
            // Nothing from `offset` on: complete if the server's size is the file's, else stale.
            if head.headers.value(of: "Content-Range") == "bytes */\(offset)" && (expectedSize ?? offset) == offset { return }
            try file.truncate()
            return try resume(url: url, into: file, expectedSize: expectedSize, progress: progress)
        default:
            throw .status(head.status, url: source)
        }
        if let expectedSize, let declaredSize, declaredSize != expectedSize {
            throw .sizeMismatch(url: source, expected: expectedSize, actual: declaredSize)
        }
        let size = expectedSize ?? declaredSize
        try response.readBody { (piece: ArraySlice<UInt8>) throws(HTTPError) in
            if let size, file.size + UInt64(piece.count) > size {
                throw .sizeMismatch(url: source, expected: size, actual: file.size + UInt64(piece.count))
            }
            try file.append(piece)
            progress?(file.size)
        }
        if let size, file.size < size {
            throw .connectionLost(url: source, reason: "closed after \(file.size) of \(size) bytes")
        }
    }

    /// The first byte and the complete length (nil for `*`) of a Content-Range.
    static func parseContentRange(_ value: String) -> (first: UInt64, complete: UInt64?)? {
        guard value.hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst(6).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let dash = parts[0].firstIndex(of: "-"), let first = UInt64(parts[0][..<dash]) else { return nil }
        return (first, parts[1] == "*" ? nil : UInt64(parts[1]))
    }
}

/// The file a download appends to; its size is where the next attempt resumes.
private final class OutputFile {
    let path: String
    private let descriptor: Int32
    private(set) var size: UInt64

    init(path: String) throws(HTTPError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .file(path: path, reason: "cannot open for writing: \(systemError())") }
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0 else { close(descriptor); throw .file(path: path, reason: "cannot seek: \(systemError())") }
        size = UInt64(end)
    }

    deinit { close(descriptor) }

    func truncate() throws(HTTPError) {
        guard ftruncate(descriptor, 0) == 0, lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw .file(path: path, reason: "cannot truncate: \(systemError())")
        }
        size = 0
    }

    func append(_ bytes: ArraySlice<UInt8>) throws(HTTPError) {
        var written = 0
        while written < bytes.count {
            let count = bytes.dropFirst(written).withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .file(path: path, reason: "cannot write: \(systemError())") }
            written += count
            size += UInt64(count)
        }
    }
}
