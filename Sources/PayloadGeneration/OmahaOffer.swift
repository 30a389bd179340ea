import Foundation
import Omaha
import Payload

/// What an update server needs to offer a payload: the facts and an Omaha v3 update-check response
/// in the encodings update_engine reads (§5.4): `action@sha256` is base64 of the whole file's SHA-256,
/// `package@hash` base64 SHA-1, `package@hash_sha256` hex (as Nebraska stores it and ue-rs parses it).
public struct OmahaOffer: Sendable, Codable {
    public static let coreOSAppID = "e96281a6-d1af-4bde-9a0a-97b76e56dc57"

    public var appid = Self.coreOSAppID
    public var version: String
    public var codebase: String
    public var name: String
    public var size: UInt64
    public var sha1Base64: String
    public var sha256Base64: String
    public var sha256Hex: String

    public init(payload url: URL, codebase: String, version: String?) throws {
        let file = try PayloadFile(url)
        let digest = Data(try file.digest(ofFirst: file.fileSize))
        // update_engine (CoreOS) appends the name to the codebase as it is.
        self.codebase = codebase.hasSuffix("/") ? codebase : codebase + "/"
        name = url.lastPathComponent
        size = file.fileSize
        sha1Base64 = Data(try file.digest(ofFirst: file.fileSize, .sha1)).base64EncodedString()
        sha256Base64 = digest.base64EncodedString()
        sha256Hex = digest.map { String(format: "%02x", $0) }.joined()
        guard let version = version ?? file.osReleaseVersion else {
            throw PayloadError(file: url.path, "the payload does not say which version it installs; pass --version")
        }
        self.version = version
    }

    /// The update-check response offering this payload, as a server sends it (§5.4).
    public var responseXML: String {
        let update = OmahaUpdate(codebases: [codebase], version: version,
                                 package: OmahaPackage(name: name, size: size, sha1Base64: sha1Base64, sha256Hex: sha256Hex),
                                 sha256Base64: sha256Base64)
        return OmahaResponse(server: "coresdk", apps: [
            OmahaResponse.App(appID: appid, pingAcknowledged: true, eventsAcknowledged: 1, updateCheck: .update(update)),
        ]).serialized()
    }
}
