import Foundation
import Support

/// Why a filesystem image could not be made, worded for the person who sized the partition or
/// supplied the tree.
public enum FilesystemError: ReportableError, Sendable, Equatable {
    /// The tree does not fit in the image size; `tool` is what the mkfs tool reported.
    case contentDoesNotFit(label: String, imageBytes: UInt64, content: TreeSize, tool: String)
    /// A bad argument or a tree the filesystem cannot represent.
    case invalidInput(String)
    /// `veritysetup verify` found data or hash blocks that do not match the root hash.
    case verityMismatch(image: String, detail: String)

    public var details: ErrorDetails {
        switch self {
        case let .contentDoesNotFit(label, imageBytes, content, tool):
            return ErrorDetails(message: "content needs more than \(imageBytes) bytes (\(mebibytes(imageBytes))): "
                + "the tree holds \(content.contentBytes) bytes (\(mebibytes(content.contentBytes))) "
                + "in \(content.entries) entries plus filesystem metadata; make the partition larger "
                + "or the tree smaller (\(tool))", partition: label)
        case let .invalidInput(message):
            return ErrorDetails(message: message)
        case let .verityMismatch(image, detail):
            return ErrorDetails(message: "does not match its dm-verity root hash: \(detail)", file: image)
        }
    }
}

func mebibytes(_ bytes: UInt64) -> String {
    String(format: "%.1f MiB", Double(bytes) / 1_048_576)
}

/// The last line of a tool's error output that mentions one of `markers`, for quoting in errors.
func toolLine(_ failure: CommandFailure, matching markers: [String]) -> String? {
    failure.standardError.split(separator: "\n")
        .last { line in markers.contains { line.localizedCaseInsensitiveContains($0) } }
        .map { $0.trimmingCharacters(in: .whitespaces) }
}

/// A lowercase RFC 4122 string, or an error naming `what` (mkfs tools accept only this form).
func canonicalUUID(_ text: String, what: String) throws -> String {
    guard let uuid = UUID(uuidString: text) else {
        throw FilesystemError.invalidInput("\(what) '\(text)' is not a UUID (like 3f2504e0-4f89-41d3-9a0c-0305e82c3301)")
    }
    return uuid.uuidString.lowercased()
}

/// Checks that `directory` exists and is a directory before a tool gets a confusing path.
func requireDirectory(_ directory: URL, for what: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
          isDirectory.boolValue else {
        throw FilesystemError.invalidInput("\(what): \(directory.path) is not a directory")
    }
}

/// Creates (or empties) `url` as a sparse file of exactly `bytes` bytes.
func createSparseFile(_ url: URL, bytes: UInt64) throws {
    guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
        throw FilesystemError.invalidInput("cannot create \(url.path)")
    }
    guard truncate(url.path, off_t(bytes)) == 0 else {
        throw FilesystemError.invalidInput("cannot size \(url.path) to \(bytes) bytes: \(String(cString: strerror(errno)))")
    }
}
