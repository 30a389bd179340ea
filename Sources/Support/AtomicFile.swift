import Foundation

/// Writes that never leave a half-written file under its final name: data goes to a temporary
/// file in the same directory and is renamed into place only when complete.
public enum AtomicFile {
    /// A temporary sibling path for `url`; the caller writes there and then calls `commit`.
    public static func temporarySibling(of url: URL) -> URL {
        url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UUID().uuidString.prefix(8))")
    }

    /// Moves a finished temporary file (or directory) to its final name, replacing what was there.
    public static func commit(_ temporary: URL, to destination: URL) throws {
        if rename(temporary.path, destination.path) != 0 {
            let reason = String(cString: strerror(errno))
            throw SupportError("cannot rename \(temporary.path) to \(destination.path): \(reason)")
        }
    }

    public static func write(_ data: Data, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        let temporary = temporarySibling(of: url)
        do {
            try data.write(to: temporary)
            try commit(temporary, to: url)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    /// Runs `body` with a temporary path next to `url`, then renames it into place.
    /// If `body` throws, the temporary file is removed and `url` is left untouched.
    public static func produce<T>(_ url: URL, _ body: (URL) throws -> T) throws -> T {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        let temporary = temporarySibling(of: url)
        do {
            let result = try body(temporary)
            try commit(temporary, to: url)
            return result
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }
}

/// The size of the file at `url` in bytes (its apparent size, holes included).
public func fileSize(_ url: URL) throws -> UInt64 {
    var info = stat()
    guard stat(url.path, &info) == 0 else {
        throw SupportError(file: url.path, "cannot stat: \(String(cString: strerror(errno)))")
    }
    return UInt64(info.st_size)
}
