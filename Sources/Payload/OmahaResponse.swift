import Crypto
import Foundation

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
        var sha1 = Insecure.SHA1()
        var sha256 = SHA256()
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            sha1.update(data: chunk)
            sha256.update(data: chunk)
        }
        let digest = Data(sha256.finalize())
        // update_engine (CoreOS) appends the name to the codebase as it is.
        self.codebase = codebase.hasSuffix("/") ? codebase : codebase + "/"
        name = url.lastPathComponent
        size = file.fileSize
        sha1Base64 = Data(sha1.finalize()).base64EncodedString()
        sha256Base64 = digest.base64EncodedString()
        sha256Hex = digest.map { String(format: "%02x", $0) }.joined()
        guard let version = version ?? Self.version(in: file) else {
            throw PayloadError(file: url.path, "the payload does not say which version it installs; pass --version")
        }
        self.version = version
    }

    /// VERSION_ID from the os-release the payload carries.
    public static func version(in file: PayloadFile) -> String? {
        guard let procedure = file.manifest.procedures.first(where: { $0.type == .osRelease }),
              let info = procedure.newInfo else { return nil }
        var text = ""
        try? PayloadVerifier(file.url).rebuild(procedure.operations, expected: info, what: "version") { piece in
            text += String(decoding: piece.bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.split(separator: "\n").first { $0.hasPrefix("VERSION_ID=") }
            .map { $0.dropFirst("VERSION_ID=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) }
    }

    public var responseXML: String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="coresdk">
          <daystart elapsed_seconds="0"></daystart>
          <app appid="\(escaped(appid))" status="ok">
            <ping status="ok"></ping>
            <updatecheck status="ok">
              <urls>
                <url codebase="\(escaped(codebase))"></url>
              </urls>
              <manifest version="\(escaped(version))">
                <packages>
                  <package name="\(escaped(name))" hash="\(sha1Base64)" hash_sha256="\(sha256Hex)" size="\(size)" required="true"></package>
                </packages>
                <actions>
                  <action event="postinstall" sha256="\(sha256Base64)" DisablePayloadBackoff="true"></action>
                </actions>
              </manifest>
            </updatecheck>
            <event status="ok"></event>
          </app>
        </response>

        """
    }

    private func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
