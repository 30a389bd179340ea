import Foundation
import Omaha
import Payload
import PayloadGeneration
import Support

/// The payloads a server hosts, in its data directory: `payloads/<sha256>/<name>`, named by their
/// content so that a URL never changes its bytes (update_engine resumes by range across restarts),
/// and uploads land in `incoming/` until they have been verified.
public struct PayloadLibrary: Sendable {
    public let directory: URL

    public init(dataDirectory: URL) throws {
        directory = dataDirectory
        for folder in ["payloads", "incoming"] {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
    }

    /// A fresh file for an upload to be written into.
    public func incomingFile() -> URL {
        directory.appendingPathComponent("incoming/\(UUID().uuidString).part")
    }

    /// The stored file a payload URL names, if the names are a payload's.
    public func file(sha256Hex: String, name: String) -> URL? {
        guard sha256Hex.count == 64, sha256Hex.allSatisfy(\.isHexDigit), Self.isPlainName(name) else { return nil }
        return directory.appendingPathComponent("payloads/\(sha256Hex)/\(name)")
    }

    /// Verifies an uploaded payload against the channel's public key, works out what the server
    /// will say about it, and moves it into place. The upload is removed whatever happens.
    public func admit(_ upload: URL, name: String, version: String?, channel: Channel, now: Int64) throws -> PublishedPayload {
        defer { try? FileManager.default.removeItem(at: upload) }
        guard Self.isPlainName(name) else {
            throw UpdateServerError.badRequest("payload name '\(name)' is not a plain file name (letters, digits, '.', '_', '-')")
        }
        let origin = "channel \(channel.name)'s public key"
        do {
            let key = try PayloadPublicKey(pem: channel.publicKey, origin: origin)
            try PayloadVerifier(upload).verify(publicKeys: [key])
        } catch let error as ReportableError {
            // The upload's temporary name means nothing to the publisher: say what was refused.
            throw UpdateServerError.badRequest("payload \(name) refused for channel \(channel.name): \(error.details.message)")
        }
        let offer = try OmahaOffer(payload: upload, codebase: "/", version: version)
        guard SemanticVersion(offer.version) != nil else {
            throw UpdateServerError.badRequest("payload \(name) installs version '\(offer.version)', which is not a semantic version (like 1.2.3)")
        }
        let published = PublishedPayload(version: offer.version, fileName: name, size: Int64(offer.size),
                                          sha1Base64: offer.sha1Base64, sha256Base64: offer.sha256Base64,
                                          sha256Hex: offer.sha256Hex, publishedAt: now)
        let folder = directory.appendingPathComponent(published.directory)
        let destination = folder.appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: destination.path) {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try FileManager.default.moveItem(at: upload, to: destination)
        }
        return published
    }

    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 200 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0)) }
    }
}
