import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
@testable import Payload
@testable import PayloadGeneration
import Support
import Testing

/// An XML element tree, enough to follow the absolute child paths update_engine's XPath lookups use.
/// Built with XMLParser: on Linux, FoundationXML's XMLDocument crashes on malformed input instead of throwing.
struct XMLTree {
    var name: String
    var attributes: [String: String]
    var children: [XMLTree] = []

    enum Failure: Error, Equatable { case empty, malformed }

    init(parsing text: String) throws {
        guard !text.isEmpty else { throw Failure.empty }
        let builder = Builder()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = builder
        // libxml2 recovers from some damage (an unclosed document) yet records the error.
        guard parser.parse(), parser.parserError == nil, let root = builder.root else { throw Failure.malformed }
        self = root
    }

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// The elements at `path` (for example `/response/app/updatecheck`), in document order.
    func select(_ path: String) -> [XMLTree] {
        let steps = path.split(separator: "/").map(String.init)
        guard steps.first == name else { return [] }
        return steps.dropFirst().reduce([self]) { nodes, step in nodes.flatMap { $0.children.filter { $0.name == step } } }
    }

    /// Every element's path with the attribute names it carries.
    func shape(prefix: String = "") -> [String: Set<String>] {
        let path = prefix + "/" + name
        var result = [path: Set(attributes.keys)]
        for child in children { result.merge(child.shape(prefix: path)) { $0.union($1) } }
        return result
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLTree] = []
        var root: XMLTree?

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            stack.append(XMLTree(name: elementName, attributes: attributeDict))
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            guard let element = stack.popLast() else { return }
            if stack.isEmpty { root = element } else { stack[stack.count - 1].children.append(element) }
        }
    }
}

/// update_engine's reading of an update-check response, restated from
/// flatcar/update_engine:src/update_engine/omaha_request_action.cc (TransferComplete, ParseResponse,
/// ParseStatus, ParseManifest, ParseUrls, ParsePackage, ParseParams); the CoreOS client differs only in
/// joining codebase and name without adding a `/` (coreos/update_engine:src/update_engine/omaha_request_action.cc).
/// Exit codes are flatcar/update_engine:src/update_engine/action_processor.h's.
enum UpdateEngineReading: Equatable {
    enum Client { case flatcar, coreOS }

    struct Offer: Equatable {
        var displayVersion: String
        var payloadURLs: [String]
        var size: Int64
        var hash: String
        var isDeltaPayload = false
        var disablePayloadBackoff = false
        var needsAdmin = false
    }

    case update(Offer)
    case noUpdate
    case failed(code: Int)

    static let emptyResponse = 30, xmlParseError = 31, responseInvalid = 34

    init(_ text: String, client: Client = .flatcar) {
        let document: XMLTree
        do { document = try XMLTree(parsing: text) } catch {
            self = .failed(code: error as? XMLTree.Failure == .empty ? Self.emptyResponse : Self.xmlParseError)
            return
        }
        guard let updateCheck = document.select("/response/app/updatecheck").first,
              let status = updateCheck.attributes["status"] else { self = .failed(code: Self.responseInvalid); return }
        guard status != "noupdate" else { self = .noUpdate; return }
        guard status == "ok", let manifest = document.select("/response/app/updatecheck/manifest").first else {
            self = .failed(code: Self.responseInvalid)
            return
        }
        let codebases = document.select("/response/app/updatecheck/urls/url").map { $0.attributes["codebase"] ?? "" }
        // Only the first package counts; its hash attributes are not read at all.
        guard !codebases.isEmpty, !codebases.contains(""),
              let package = document.select("/response/app/updatecheck/manifest/packages/package").first,
              let name = package.attributes["name"], !name.isEmpty else { self = .failed(code: Self.responseInvalid); return }
        let urls = codebases.map { codebase in
            client == .flatcar && !codebase.hasSuffix("/") ? codebase + "/" + name : codebase + name
        }
        let size = Self.scanInteger(package.attributes["size"] ?? "")
        guard size > 0,
              let postinstall = document.select("/response/app/updatecheck/manifest/actions/action")
                  .first(where: { $0.attributes["event"] == "postinstall" }),
              let hash = postinstall.attributes["sha256"], !hash.isEmpty else { self = .failed(code: Self.responseInvalid); return }
        self = .update(Offer(displayVersion: manifest.attributes["version"] ?? "", payloadURLs: urls, size: size, hash: hash,
                             isDeltaPayload: postinstall.attributes["IsDeltaPayload"] == "true",
                             disablePayloadBackoff: postinstall.attributes["DisablePayloadBackoff"] == "true",
                             needsAdmin: postinstall.attributes["needsadmin"] == "true"))
    }

    /// sscanf("%" PRIi64): leading digits, 0 when there are none.
    static func scanInteger(_ text: String) -> Int64 {
        let trimmed = text.drop { $0 == " " }
        let sign = trimmed.first == "-" || trimmed.first == "+" ? String(trimmed.prefix(1)) : ""
        return Int64(sign + trimmed.dropFirst(sign.count).prefix { $0.isASCII && $0.isNumber }) ?? 0
    }
}

/// ue-rs's reading of the same response (flatcar/ue-rs:omaha/src/response.rs and hash_types.rs):
/// `package@hash` is base64 SHA-1, `package@hash_sha256` hex SHA-256, `action@sha256` base64 SHA-256,
/// `required` and `manifest@version` are mandatory, and a package's URL is the first codebase joined
/// with its name by RFC 3986 resolution (flatcar/ue-rs:src/download/mod.rs).
struct UeRsReading {
    struct Package { let name: String, url: URL, size: UInt64, required: Bool, sha1: [UInt8]?, sha256: [UInt8]? }
    struct Failure: Error, CustomStringConvertible { let description: String }

    let protocolVersion: String
    let appStatus: String
    let updateCheckStatus: String
    let manifestVersion: String
    let packages: [Package]
    let postinstallSHA256: [UInt8]

    init(_ text: String) throws {
        let document = try XMLTree(parsing: text)
        func required(_ element: XMLTree?, _ attribute: String) throws -> String {
            guard let value = element?.attributes[attribute] else { throw Failure(description: "no \(element?.name ?? "element")@\(attribute)") }
            return value
        }
        protocolVersion = try required(document.select("/response").first, "protocol")
        let app = document.select("/response/app").first
        guard let appID = app?.attributes["appid"], UUID(uuidString: appID.trimmingCharacters(in: CharacterSet(charactersIn: "{}"))) != nil else {
            throw Failure(description: "app@appid is not a UUID")
        }
        appStatus = try required(app, "status")
        updateCheckStatus = try required(document.select("/response/app/updatecheck").first, "status")
        manifestVersion = try required(document.select("/response/app/updatecheck/manifest").first, "version")
        let codebase = try required(document.select("/response/app/updatecheck/urls/url").first, "codebase")
        guard let base = URL(string: codebase) else { throw Failure(description: "codebase \(codebase) is not a URL") }
        packages = try document.select("/response/app/updatecheck/manifest/packages/package").map { element in
            let name = try required(element, "name")
            guard let size = UInt64(try required(element, "size")) else { throw Failure(description: "\(name): size") }
            let requiredFlag = try required(element, "required")
            guard requiredFlag == "true" || requiredFlag == "false" else { throw Failure(description: "\(name): required") }
            let sha1 = try element.attributes["hash"].map { try Self.digest(base64: $0, count: 20) }
            let sha256 = try element.attributes["hash_sha256"].map { try Self.digest(hex: $0, count: 32) }
            guard let url = URL(string: name, relativeTo: base)?.absoluteURL else { throw Failure(description: "\(name): URL") }
            return Package(name: name, url: url, size: size, required: requiredFlag == "true", sha1: sha1, sha256: sha256)
        }
        let actions = document.select("/response/app/updatecheck/manifest/actions/action")
        for action in actions {
            let event = try required(action, "event")
            guard ["preinstall", "install", "postinstall", "update"].contains(event) else { throw Failure(description: "unknown action event \(event)") }
        }
        guard let postinstall = actions.first(where: { $0.attributes["event"] == "postinstall" }) else {
            throw Failure(description: "no postinstall action")
        }
        postinstallSHA256 = try Self.digest(base64: try required(postinstall, "sha256"), count: 32)
    }

    static func digest(base64 text: String, count: Int) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text), data.count == count else { throw Failure(description: "\(text): not base64 of \(count) bytes") }
        return [UInt8](data)
    }

    static func digest(hex text: String, count: Int) throws -> [UInt8] {
        guard text.count == 2 * count, text.allSatisfy(\.isHexDigit) else { throw Failure(description: "\(text): not hex of \(count) bytes") }
        return ReferenceVectors.bytes(hex: text)
    }
}

/// Responses as real servers and update_engine's own tests write them. Each is written here from the
/// named source's shape and values.
enum OmahaSamples {
    /// flatcar/ue-rs:src/testdata/omaha-response-example.xml, a Nebraska response with sysext packages.
    static let nebraska = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="nebraska">
          <daystart elapsed_seconds="0"></daystart>
          <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="ok">
            <ping status="ok"></ping>
            <updatecheck status="ok">
              <urls>
                <url codebase="https://update.release.flatcar-linux.net/amd64-usr/3732.0.0/"></url>
              </urls>
              <manifest version="3732.0.0">
                <packages>
                  <package name="flatcar_production_update.gz" hash="I6DGNAOrJRUxPbCuLw+AITfiVMo=" size="382137917" required="true">
                  </package>
                  <package name="oem-azure.gz" hash="wepxwEV9L2SS1l/ycEZSqWM3dDc=" hash_sha256="3aed3129de50b959a97e4913ba485bd60e72d2bb6aa377d5ed404103f0680043" size="40897503" required="false"></package>
                  <package name="oem-qemu.gz" hash="+06iWWI6gaSlcIHV7pjIEJrE9CA=" hash_sha256="8ab630ee4079ecd5f8f512c05b44fec5e4f8db844db916c67c8d54a575cfe506" size="2282" required="false"></package>
                </packages>
                <actions>
                  <action event="postinstall" sha256="stLG3U/o4Ar8TMHFwT/RWB0iNkaWOO6QtLrq6+AHBbA=" DisablePayloadBackoff="true"></action>
                </actions>
              </manifest>
            </updatecheck>
            <event status="ok"></event>
          </app>
        </response>
        """

    /// coreos/go-omaha:fixtures/update-engine/update/response.xml, captured from a devserver for update_engine.
    static let devserver = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0">
        <daystart elapsed_seconds="49008"/>
        <app appid="{87efface-864d-49a5-9bb3-4b050a7c227a}" status="ok">
        <ping status="ok"/>
        <updatecheck status="ok">
        <urls><url codebase="http://kam:8080/static/"/></urls>
        <manifest version="9999.0.0">
        <packages><package hash="+LXvjiaPkeYDLHoNKlf9qbJwvnk=" name="update.gz" size="67546213" required="true"/></packages>
        <actions><action event="postinstall" ChromeOSVersion="9999.0.0" sha256="0VAlQW3RE99SGtSB5R4m08antAHO8XDoBMKDyxQT/Mg=" needsadmin="false" IsDelta="True"/></actions>
        </manifest>
        </updatecheck>
        </app>
        </response>
        """

    /// coreos/go-omaha:src/omaha/fixtures/update-engine/no-update/response.xml as stored: `<response"` and
    /// no closing tag.
    static let devserverNoUpdateAsStored = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response" protocol="3.0">
        <daystart elapsed_seconds="49051"/>
        <app appid="{87efface-864d-49a5-9bb3-4b050a7c227a}" status="ok">
        <ping status="ok"/>
        <updatecheck status="noupdate"/>
        </app>

        """

    /// coreos/coreos-overlay:sample_omaha_v3_response.xml, a ChromeOS production response: no XML
    /// declaration, and the postinstall action is the second action.
    static let chromeOS = """
        <response protocol="3.0" server="prod">
          <daystart elapsed_seconds="56652"/>
          <app appid="{90f229ce-83e2-4faf-8479-e368a34938b1}" status="ok">
            <updatecheck status="ok">
              <urls><url codebase="https://storage.googleapis.com/chromeos-releases-public/canary-channel/canary-channel/3095.0.0/"/></urls>
              <manifest version="3095.0.0">
                <packages>
                  <package hash="HVOmp67vBjPdvpWmOC2Uw4UDwsc=" name="chromeos_3095.0.0_x86-zgb_canary-channel_full_mp-v2.bin-df37843370ddf1e3819a2afeaa934faa.signed" required="true" size="400752559"/>
                </packages>
                <actions>
                  <action event="update" run="chromeos_3095.0.0_x86-zgb_canary-channel_full_mp-v2.bin-df37843370ddf1e3819a2afeaa934faa.signed"/>
                  <action ChromeOSVersion="3095.0.0" ChromeVersion="24.0.1307.0" IsDelta="true" MaxDaysToScatter="14" MetadataSignatureRsa="xXrO/LahHlKk3YmqEf1qE0PN587Sc2IJV+FN7J7x1h49waNQIy/QwYO4LaOySgETe5JZXtkAEzzqakfJwxQ2pVfzj1GkExwjd5LTn1He2GvA73B8fKbS4bfP7dbUFwD5039xCwf1U2gezFViOiOPiVURx/pEsdhv+Cqx/3HbjIuj5au2dooSyDxLC5AnODzAKyYfAcjMuiLON+9SqmctJW+VjzdY9SbJAnkH2qqVjFyBKAXsYT+hOTIJ3MJpg8OSVxMMtGB99PxbOJ52F37d2Y5Fws/AUkNnNEsan/WRJA1kuWoS6rpeR8JQYuVhLiK2u/KpOcvMVRw3Q2VUxtcAGw==" MetadataSize="58315" event="postinstall" sha256="DIAVxoI+8NpsudUawOA5U92VHlaxQBS3ejN4EPM6T2A="/>
                </actions>
              </manifest>
            </updatecheck>
          </app>
        </response>
        """

    /// coreos/docs:coreupdate/update-protocol.md, CoreUpdate's documented update response: a codebase
    /// without a trailing `/` and hex digests.
    static let coreUpdate = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="update.core-os.net">
         <daystart elapsed_seconds="0"></daystart>
         <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="ok">
          <updatecheck status="ok">
           <urls><url codebase="http://index.example.com/webapp:1.0.2"></url></urls>
           <manifest version="1.0.2">
            <packages><package hash="fe7374bddde2ddf07f6bfcc728d115d14338964b" name="update.gz" size="23" required="false"></package></packages>
            <actions><action event="postinstall" sha256="b602d630f0a081840d0ca8fc4d35810e42806642b3127bb702d65c3df227d0f5" needsadmin="false" IsDelta="false" DisablePayloadBackoff="true" MetadataSignatureRsa="ixi6Oebo" MetadataSize="190"></action></actions>
           </manifest>
          </updatecheck>
         </app>
        </response>
        """

    /// The same document's "already up-to-date" response.
    static let coreUpdateNoUpdate = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="update.core-os.net">
         <daystart elapsed_seconds="0"></daystart>
         <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="ok">
          <updatecheck status="noupdate"></updatecheck>
         </app>
        </response>
        """

    /// Nebraska's answer when it cannot serve the app or group (flatcar/nebraska:backend/pkg/omaha/omaha.go
    /// buildOmahaResponse: the app status names the error, the update check is `error-internal`).
    static let nebraskaUnknownGroup = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="nebraska"><daystart elapsed_seconds="0"></daystart>\
        <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="error-unknownApplicationOrGroup">\
        <updatecheck status="error-internal"></updatecheck></app></response>
        """

    /// The responses flatcar/update_engine:src/update_engine/omaha_request_action_unittest.cc builds
    /// (GetNoUpdateResponse, GetUpdateResponse2), with its attribute order and self-closing elements.
    static func updateEngineNoUpdate(appID: String = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}") -> String {
        #"<?xml version="1.0" encoding="UTF-8"?><response protocol="3.0"><daystart elapsed_seconds="100"/>"#
            + #"<app appid="\#(appID)" status="ok"><ping status="ok"/><updatecheck status="noupdate"/></app></response>"#
    }

    static func updateEngineUpdate(version: String, codebase: String, name: String, hash: String, size: String,
                                   isDeltaPayload: String = "true") -> String {
        #"<?xml version="1.0" encoding="UTF-8"?><response protocol="3.0"><daystart elapsed_seconds="100"/>"#
            + #"<app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" status="ok"><ping status="ok"/><updatecheck status="ok">"#
            + #"<urls><url codebase="\#(codebase)"/></urls><manifest version="\#(version)">"#
            + #"<packages><package hash="not-used" name="\#(name)" size="\#(size)"/></packages>"#
            + #"<actions><action event="postinstall" IsDelta="true" IsDeltaPayload="\#(isDeltaPayload)" sha256="\#(hash)" /></actions>"#
            + "</manifest></updatecheck></app></response>"
    }

    static func updateEngineBroken(updateCheck: String) -> String {
        #"<?xml version="1.0" encoding="UTF-8"?><response protocol="3.0"><daystart elapsed_seconds="100"/>"#
            + #"<app appid="foo" status="ok"><ping status="ok"/>\#(updateCheck)</app></response>"#
    }
}

/// The readers above are ours; before trusting them with our response, they must give the answers the
/// clients' own tests and real servers' responses give.
@Suite struct OmahaReaderCalibrationTests {
    /// flatcar/update_engine:src/update_engine/omaha_request_action_unittest.cc: NoUpdateTest,
    /// ValidUpdateTest, InvalidXmlTest, EmptyResponseTest, MissingStatusTest, InvalidStatusTest,
    /// MissingNodesetTest, MissingFieldTest, ConcatUrlSlashTest, XmlDecodeTest, ParseIntTest.
    @Test func updateEngineRulesReproduceItsUnitTestAnswers() {
        #expect(UpdateEngineReading(OmahaSamples.updateEngineNoUpdate()) == .noUpdate)
        #expect(UpdateEngineReading(OmahaSamples.updateEngineUpdate(version: "1.2.3.4", codebase: "http://code/base/", name: "file.signed",
                                                                  hash: "HASH1234=", size: "123"))
                == .update(.init(displayVersion: "1.2.3.4", payloadURLs: ["http://code/base/file.signed"], size: 123, hash: "HASH1234=",
                                 isDeltaPayload: true)))
        #expect(UpdateEngineReading("invalid xml>") == .failed(code: UpdateEngineReading.xmlParseError))
        #expect(UpdateEngineReading("") == .failed(code: UpdateEngineReading.emptyResponse))
        #expect(UpdateEngineReading(OmahaSamples.updateEngineBroken(updateCheck: "<updatecheck/>")) == .failed(code: UpdateEngineReading.responseInvalid))
        #expect(UpdateEngineReading(OmahaSamples.updateEngineBroken(updateCheck: #"<updatecheck status="InvalidStatusTest"/>"#))
                == .failed(code: UpdateEngineReading.responseInvalid))
        #expect(UpdateEngineReading(OmahaSamples.updateEngineBroken(updateCheck: "")) == .failed(code: UpdateEngineReading.responseInvalid))
        #expect(UpdateEngineReading(OmahaSamples.updateEngineUpdate(version: "1.0.0.0", codebase: "http://missing/field/test/", name: "f",
                                                                  hash: "lkq34j5345", size: "587", isDeltaPayload: "false"))
                == .update(.init(displayVersion: "1.0.0.0", payloadURLs: ["http://missing/field/test/f"], size: 587, hash: "lkq34j5345")))
        let withoutSlash = OmahaSamples.updateEngineUpdate(version: "1.0.0.0", codebase: "http://concat/url/slash/test", name: "f",
                                                           hash: "lkq34j5345", size: "587")
        #expect(UpdateEngineReading(withoutSlash).offer?.payloadURLs == ["http://concat/url/slash/test/f"])
        #expect(UpdateEngineReading(withoutSlash, client: .coreOS).offer?.payloadURLs == ["http://concat/url/slash/testf"],
                "CoreOS update_engine appends the name as it is")
        #expect(UpdateEngineReading(OmahaSamples.updateEngineUpdate(version: "1.2.3.4", codebase: "testthe&amp;codebase/", name: "file.signed",
                                                                  hash: "HASH1234=", size: "123")).offer?.payloadURLs
                == ["testthe&codebase/file.signed"])
        #expect(UpdateEngineReading(OmahaSamples.updateEngineUpdate(version: "1.2.3.4", codebase: "thecodebase/", name: "file.signed",
                                                                  hash: "HASH1234=", size: "123123123123123")).offer?.size
                == 123_123_123_123_123)
    }

    @Test func updateEngineRulesReadRealServersResponses() {
        #expect(UpdateEngineReading(OmahaSamples.nebraska) == .update(.init(
            displayVersion: "3732.0.0",
            payloadURLs: ["https://update.release.flatcar-linux.net/amd64-usr/3732.0.0/flatcar_production_update.gz"],
            size: 382_137_917, hash: "stLG3U/o4Ar8TMHFwT/RWB0iNkaWOO6QtLrq6+AHBbA=", disablePayloadBackoff: true)))
        // IsDelta is the deprecated ChromeOS attribute; only IsDeltaPayload="true" marks a delta.
        #expect(UpdateEngineReading(OmahaSamples.devserver) == .update(.init(
            displayVersion: "9999.0.0", payloadURLs: ["http://kam:8080/static/update.gz"], size: 67_546_213,
            hash: "0VAlQW3RE99SGtSB5R4m08antAHO8XDoBMKDyxQT/Mg=")))
        #expect(UpdateEngineReading(OmahaSamples.chromeOS).offer?.hash == "DIAVxoI+8NpsudUawOA5U92VHlaxQBS3ejN4EPM6T2A=")
        #expect(UpdateEngineReading(OmahaSamples.chromeOS).offer?.size == 400_752_559)
        let coreUpdate = UpdateEngineReading(OmahaSamples.coreUpdate).offer
        #expect(coreUpdate?.payloadURLs == ["http://index.example.com/webapp:1.0.2/update.gz"])
        #expect(coreUpdate?.hash.count == 64, "a hex digest: it reads, but never equals the base64 hash the client computes (error 10)")
        #expect(UpdateEngineReading(OmahaSamples.coreUpdateNoUpdate) == .noUpdate)
        #expect(UpdateEngineReading(OmahaSamples.nebraskaUnknownGroup) == .failed(code: UpdateEngineReading.responseInvalid))
        #expect(UpdateEngineReading(OmahaSamples.devserverNoUpdateAsStored) == .failed(code: UpdateEngineReading.xmlParseError))
    }

    /// flatcar/ue-rs:src/testdata/omaha-response-example.xml is what ue-rs's own tests read; its
    /// hash_types.rs tests pin both encodings of SHA-256("hello").
    @Test func ueRsRulesReadNebraskasResponse() throws {
        let reading = try UeRsReading(OmahaSamples.nebraska)
        #expect(reading.packages.map(\.name) == ["flatcar_production_update.gz", "oem-azure.gz", "oem-qemu.gz"])
        #expect(reading.packages.map { $0.sha1?.count } == [20, 20, 20])
        #expect(reading.packages.map { $0.sha256?.count } == [nil, 32, 32])
        #expect(reading.packages[1].url.absoluteString == "https://update.release.flatcar-linux.net/amd64-usr/3732.0.0/oem-azure.gz")
        #expect(reading.postinstallSHA256.count == 32)
        #expect(try UeRsReading.digest(hex: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", count: 32)
                == (try UeRsReading.digest(base64: "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=", count: 32)))
        #expect(throws: UeRsReading.Failure.self, "CoreUpdate's documented hex digests are not the encodings ue-rs reads") {
            try UeRsReading(OmahaSamples.coreUpdate)
        }
    }
}

extension UpdateEngineReading {
    var offer: Offer? {
        if case .update(let offer) = self { return offer }
        return nil
    }
}

/// `coresdk payload omaha` output, read the way the clients read it.
@Suite(.serialized) struct OmahaResponseAgainstClientsTests {
    struct Served {
        let payload: URL
        let bytes: [UInt8]
        let offer: OmahaOffer
    }

    /// A small signed payload and our response offering it.
    func serve(_ keys: ReferenceKeyFiles, codebase: String, name: String = "flatcar_production_update.gz") throws -> Served {
        let partition = try keys.file("usr.img", ReferenceVectors.onesBlock)
        let payload = keys.directory.appendingPathComponent(name)
        _ = try PayloadGenerator(partitionImage: partition, bootFiles: [(.kernel, ReferenceVectors.unalignedOnes)], signatureCount: 1)
            .write(to: payload, signingKeys: [try PayloadPrivateKey(contentsOf: keys.developerKey)])
        return Served(payload: payload, bytes: [UInt8](try Data(contentsOf: payload)),
                      offer: try OmahaOffer(payload: payload, codebase: codebase, version: "3732.0.0"))
    }

    /// What openssl says the digest of `file` is, base64-encoded as update_engine's OmahaHashCalculator
    /// encodes it (flatcar/update_engine:src/update_engine/omaha_hash_calculator.cc).
    func base64Digest(_ algorithm: String, of file: URL) throws -> String {
        try Command.run(["sh", "-c", "openssl dgst -\(algorithm) -binary \"$1\" | base64 -w0", "sh", file.path]).text
    }

    /// The client downloads codebase + name, checks the file size (error 11) and compares base64
    /// SHA-256 of the whole file with action@sha256 (error 10; flatcar/update_engine:src/update_engine/payload_processor.cc
    /// VerifyPayload). Both clients must get the same URL from a codebase given without `/`.
    @Test func updateEngineAcceptsOurResponseWithTheHashAndSizeItChecks() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let served = try serve(keys, codebase: "http://192.0.2.7:8080/amd64-usr/3732.0.0")
        let file = try PayloadFile(served.payload)
        let expected = UpdateEngineReading.Offer(
            displayVersion: "3732.0.0", payloadURLs: ["http://192.0.2.7:8080/amd64-usr/3732.0.0/flatcar_production_update.gz"],
            size: Int64(served.bytes.count), hash: try base64Digest("sha256", of: served.payload), disablePayloadBackoff: true)
        #expect(UpdateEngineReading(served.offer.responseXML) == .update(expected))
        #expect(UpdateEngineReading(served.offer.responseXML, client: .coreOS) == .update(expected))
        #expect(UInt64(expected.size) == file.blobStart + file.manifest.signaturesOffset! + file.manifest.signaturesSize!,
                "the size the client compares with what the payload's manifest describes")
        #expect(expected.hash.count == 44)
    }

    /// An `&` in a codebase reaches the client unchanged (update_engine decodes entities:
    /// omaha_request_action_unittest.cc XmlDecodeTest).
    @Test func codebaseWithXMLSpecialCharactersReachesTheClientUnchanged() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let served = try serve(keys, codebase: "https://downloads.example.com/r&d/")
        #expect(UpdateEngineReading(served.offer.responseXML).offer?.payloadURLs
                == ["https://downloads.example.com/r&d/flatcar_production_update.gz"])
    }

    /// ue-rs (and flatcar-postinst, which hands the stored response to it) reads the hashes in their own
    /// encodings and resolves the same URL update_engine builds.
    @Test func ueRsReadsOurHashesInTheirEncodings() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let served = try serve(keys, codebase: "https://updates.example.com/amd64-usr/3732.0.0")
        let reading = try UeRsReading(served.offer.responseXML)
        #expect(reading.protocolVersion == "3.0")
        #expect([reading.appStatus, reading.updateCheckStatus, reading.manifestVersion] == ["ok", "ok", "3732.0.0"])
        let package = try #require(reading.packages.count == 1 ? reading.packages.first : nil)
        #expect(package.required)
        #expect(package.size == UInt64(served.bytes.count))
        #expect(package.sha1 == ReferenceVectors.base64(try base64Digest("sha1", of: served.payload)))
        #expect(package.sha256 == ReferenceVectors.base64(try base64Digest("sha256", of: served.payload)))
        #expect(reading.postinstallSHA256 == ReferenceVectors.base64(try base64Digest("sha256", of: served.payload)))
        #expect(UpdateEngineReading(served.offer.responseXML).offer?.payloadURLs == [package.url.absoluteString])
    }

    /// Element paths and attribute names as Nebraska serves them (flatcar/ue-rs:src/testdata/omaha-response-example.xml),
    /// every attribute within go-omaha's vocabulary (flatcar/go-omaha:omaha/protocol.go), the Flatcar
    /// app ID (flatcar/update_engine:src/update_engine/omaha_request_params.cc kAppId, unbraced as Nebraska
    /// answers), and each request event acknowledged (coreos/docs:coreupdate/update-protocol.md).
    @Test func ourResponseHasTheShapeNebraskaServes() throws {
        let keys = try ReferenceKeyFiles()
        defer { keys.remove() }
        let ours = try XMLTree(parsing: try serve(keys, codebase: "https://updates.example.com/").offer.responseXML)
        let nebraska = try XMLTree(parsing: OmahaSamples.nebraska).shape()
        let shape = ours.shape()
        #expect(Set(shape.keys) == Set(nebraska.keys))
        for (path, attributes) in shape {
            #expect(attributes.isSubset(of: nebraska[path] ?? []), "\(path): \(attributes.subtracting(nebraska[path] ?? []))")
        }
        #expect(ours.attributes["protocol"] == "3.0")
        #expect(ours.select("/response/app").map { $0.attributes["appid"] } == ["e96281a6-d1af-4bde-9a0a-97b76e56dc57"])
        #expect(ours.select("/response/app/event").map { $0.attributes["status"] } == ["ok"])
        #expect(ours.select("/response/app/updatecheck/manifest/actions/action").map { $0.attributes["event"] } == ["postinstall"])
    }
}
