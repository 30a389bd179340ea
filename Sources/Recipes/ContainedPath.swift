import Foundation

/// Relative paths from configuration files, kept inside the folder they are relative to: an
/// absolute path, a `..` that climbs out, or a symbolic link that points out is refused, so a
/// recipe can only ever copy its own files into the image.
enum ContainedPath {
    /// `a/./b/../c` → `a/c`; throws for absolute paths, paths that leave the folder, and the folder itself.
    static func normalize(_ text: String, folderName: String) throws -> String {
        guard !text.hasPrefix("/") else {
            throw InvalidValue("'\(text)' is absolute; write a path relative to \(folderName)")
        }
        var components: [Substring] = []
        for component in text.split(separator: "/") where component != "." {
            if component == ".." {
                guard components.popLast() != nil else {
                    throw InvalidValue("'\(text)' leaves \(folderName) with '..'; keep the files inside it")
                }
            } else {
                components.append(component)
            }
        }
        guard !components.isEmpty else {
            throw InvalidValue("'\(text)' names \(folderName) itself; name a file or folder inside it")
        }
        return components.joined(separator: "/")
    }

    /// The normalized path, its URL, and whether it is a directory (nil when nothing is there).
    static func resolve(_ text: String, in folder: URL, folderName: String) throws
        -> (relative: String, url: URL, isDirectory: Bool?) {
        let relative = try normalize(text, folderName: folderName)
        let url = folder.appendingPathComponent(relative)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            return (relative, url, nil)
        }
        if let real = realPath(url), let realFolder = realPath(folder), !real.hasPrefix(realFolder + "/") {
            throw InvalidValue("'\(text)' is a symbolic link that leads out of \(folderName)")
        }
        return (relative, url, isDirectory.boolValue)
    }

    private static func realPath(_ url: URL) -> String? {
        guard let resolved = realpath(url.path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
