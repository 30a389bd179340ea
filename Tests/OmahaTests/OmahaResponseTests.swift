import Omaha
import XCTest

/// Responses as the server writes them and as update_engine reads them (payload doc §5.4).
final class OmahaResponseTests: XCTestCase {
    /// The spec's §5.4 example with its placeholders filled in, in its own layout.
    static let specExample = """
        <?xml version="1.0" encoding="UTF-8"?>
        <response protocol="3.0" server="nebraska">
          <daystart elapsed_seconds="0"></daystart>
          <app appid="e96281a6-d1af-4bde-9a0a-97b76e56dc57" status="ok">
            <ping status="ok"></ping>
            <updatecheck status="ok">
              <urls><url codebase="https://updates.example.com/amd64-usr/4001.0.0/"></url></urls>
              <manifest version="4001.0.0">
                <packages>
                  <package name="flatcar_production_update.gz" hash="I6DGNAOrJRUxPbCuLw+AITfiVMo=" size="382137917" required="true"></package>
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

    /// The same response as the server's model.
    static let specModel = OmahaResponse(server: "nebraska", apps: [
        .init(appID: "e96281a6-d1af-4bde-9a0a-97b76e56dc57", pingAcknowledged: true, eventsAcknowledged: 1, updateCheck: .update(OmahaUpdate(
            codebases: ["https://updates.example.com/amd64-usr/4001.0.0/"], version: "4001.0.0",
            package: OmahaPackage(name: "flatcar_production_update.gz", size: 382_137_917, sha1Base64: "I6DGNAOrJRUxPbCuLw+AITfiVMo="),
            extraPackages: [OmahaPackage(name: "oem-qemu.gz", size: 2282, sha1Base64: "+06iWWI6gaSlcIHV7pjIEJrE9CA=",
                                         sha256Hex: "8ab630ee4079ecd5f8f512c05b44fec5e4f8db844db916c67c8d54a575cfe506", isRequired: false)],
            sha256Base64: "stLG3U/o4Ar8TMHFwT/RWB0iNkaWOO6QtLrq6+AHBbA="))),
    ])

    func testReadsTheSpecExample() throws {
        let response = try OmahaResponse(parsing: Self.specExample)
        XCTAssertEqual(response, Self.specModel)
        guard case .update(let update) = response.apps.first?.updateCheck else { return XCTFail("no update offered") }
        XCTAssertEqual(update.payloadURLs, ["https://updates.example.com/amd64-usr/4001.0.0/flatcar_production_update.gz"])
        XCTAssertTrue(update.disablePayloadBackoff)
        XCTAssertNil(update.pollInterval)
    }

    /// The spec's layout, except that `<url>` gets a line of its own as in Payload's current writer.
    func testWritesTheSpecShape() {
        let url = #"<url codebase="https://updates.example.com/amd64-usr/4001.0.0/"></url>"#
        XCTAssertEqual(Self.specModel.serialized(),
                       Self.specExample.replacingAll("<urls>\(url)</urls>", with: "<urls>\n        \(url)\n      </urls>") + "\n")
    }

    /// The payload package carries all three hashes in their encodings (payload doc §5.4 table).
    func testWritesEachHashInItsEncoding() {
        var response = Self.specModel
        guard case .update(var update) = response.apps[0].updateCheck else { return XCTFail("no update offered") }
        update.package.sha256Hex = "b2d2c6dd4fe8e00afc4cc1c5c13fd1581d2236469638ee90b4baeaebe00705b0"
        response.apps[0].updateCheck = .update(update)
        let text = response.serialized()
        XCTAssertTrue(text.contains(#"<package name="flatcar_production_update.gz" hash="I6DGNAOrJRUxPbCuLw+AITfiVMo=" "#
                                    + #"hash_sha256="b2d2c6dd4fe8e00afc4cc1c5c13fd1581d2236469638ee90b4baeaebe00705b0" size="382137917" required="true"></package>"#))
        XCTAssertTrue(text.contains(#"<action event="postinstall" sha256="stLG3U/o4Ar8TMHFwT/RWB0iNkaWOO6QtLrq6+AHBbA=" DisablePayloadBackoff="true"></action>"#))
    }

    func testEveryAnswerReadsBackUnchanged() throws {
        guard case .update(let specOffer) = Self.specModel.apps[0].updateCheck else { return XCTFail("no update offered") }
        var offer = specOffer
        offer.codebases.append("http://mirror.example.com/a&b/")
        offer.extraPackages = [OmahaPackage(name: "oem-azure.gz", size: 40_897_503, sha256Hex: String(repeating: "a", count: 64), isRequired: false)]
        offer.pollInterval = 3600
        offer.isDeltaPayload = true
        offer.disablePayloadBackoff = false
        let answers: [OmahaResponse.UpdateCheck?] = [.update(specOffer), .update(offer), .noUpdate, .error(OmahaStatus.internalError), nil]
        for answer in answers {
            let response = OmahaResponse(server: "coresdk", daystartElapsedSeconds: 49_008, apps: [
                .init(appID: "e96281a6-d1af-4bde-9a0a-97b76e56dc57", pingAcknowledged: true, eventsAcknowledged: 2, updateCheck: answer),
                .init(appID: "{other}", status: OmahaStatus.unknownApplication),
            ])
            XCTAssertEqual(try OmahaResponse(parsing: response.serialized()), response, "\(String(describing: answer))")
        }
    }

    /// A server acknowledges the ping and every event, and answers the update check only if asked.
    func testAnAnswerAcknowledgesWhatTheRequestSent() throws {
        let request = try OmahaRequest(parsing: OmahaRequestTests.specExample)
        let answer = OmahaResponse.App(answering: request.apps[0], updateCheck: .noUpdate)
        XCTAssertEqual(answer, .init(appID: "e96281a6-d1af-4bde-9a0a-97b76e56dc57", pingAcknowledged: true, eventsAcknowledged: 1,
                                     updateCheck: .noUpdate))
        var eventOnly = request.apps[0]
        eventOnly.ping = nil
        eventOnly.updateCheck = false
        eventOnly.events = [.downloadStarted, .downloadFinished]
        XCTAssertEqual(OmahaResponse.App(answering: eventOnly, updateCheck: .noUpdate),
                       .init(appID: "e96281a6-d1af-4bde-9a0a-97b76e56dc57", eventsAcknowledged: 2))
    }

    func testACodebaseWithoutTrailingSlashGetsOne() {
        var update = OmahaUpdate(codebases: ["http://concat/url/slash/test"], version: "1.0.0",
                                 package: OmahaPackage(name: "f", size: 587), sha256Base64: "lkq34j5345")
        XCTAssertEqual(update.payloadURLs, ["http://concat/url/slash/test/f"], "CoreOS update_engine would ask for .../testf")
        update.codebases.append("https://mirror.example.com/flatcar")
        XCTAssertEqual(update.codebases.last, "https://mirror.example.com/flatcar/")
        let response = OmahaResponse(server: "coresdk", apps: [.init(appID: "a", updateCheck: .update(update))])
        XCTAssertTrue(response.serialized().contains(#"<url codebase="https://mirror.example.com/flatcar/"></url>"#))
    }

    /// The answers flatcar/update_engine's omaha_request_action_unittest.cc expects: NoUpdateTest,
    /// ValidUpdateTest, MissingStatusTest, InvalidStatusTest, MissingFieldTest, XmlDecodeTest, ParseIntTest.
    func testReadsUpdateChecksAsUpdateEngineDoes() throws {
        XCTAssertEqual(try updateCheck(#"<updatecheck status="noupdate"/>"#), .noUpdate)
        XCTAssertEqual(try updateCheck(#"<updatecheck status="InvalidStatusTest"/>"#), .error("InvalidStatusTest"))
        XCTAssertEqual(try updateCheck(#"<updatecheck status="error-internal"/>"#), .error("error-internal"))
        XCTAssertNil(try response("").apps.first?.updateCheck, "no updatecheck element")
        let update = try updateCheck(Self.updateCheck(codebase: "testthe&amp;codebase/", size: "123123123123123",
                                                      extra: #" PollInterval="7200""#))
        XCTAssertEqual(update, .update(OmahaUpdate(codebases: ["testthe&codebase/"], version: "1.2.3.4",
                                                   package: OmahaPackage(name: "file.signed", size: 123_123_123_123_123, sha1Base64: "not-used",
                                                                         isRequired: false),
                                                   sha256Base64: "HASH1234=", pollInterval: 7200, disablePayloadBackoff: false,
                                                   isDeltaPayload: true)))
        guard case .update(let lenient) = try updateCheck(Self.updateCheck(extra: #" PollInterval="soon""#)) else { return XCTFail() }
        XCTAssertNil(lenient.pollInterval, "update_engine reads a garbled PollInterval as 0 and ignores it")
    }

    /// Each of these is update_engine's error 34 ("Omaha response invalid").
    func testRefusesAnOkUpdateCheckThatUpdateEngineWouldRefuse() {
        let path = "response/app[1]/updatecheck"
        let cases: [(updateCheck: String, message: String)] = [
            ("<updatecheck/>", "\(path) has no status"),
            (Self.updateCheck().replacingAll(#"<urls><url codebase="http://code/base/"/></urls>"#, with: ""), "\(path) has no urls/url"),
            (Self.updateCheck(codebase: ""), "\(path)/urls/url[1] has no codebase"),
            (Self.updateCheck(name: ""), "\(path)/manifest/packages/package[1] has no name"),
            (Self.updateCheck(size: "0"), "\(path)/manifest/packages/package[1]@size is \"0\", not a size above 0"),
            (Self.updateCheck(size: "-5"), "\(path)/manifest/packages/package[1]@size is \"-5\", not a size above 0"),
            (Self.updateCheck(size: "12abc"), "\(path)/manifest/packages/package[1]@size is \"12abc\", not a size above 0"),
            (Self.updateCheck(hash: ""), "\(path)/manifest/actions/action[@event=postinstall] has no sha256"),
            (Self.updateCheck().replacingAll("postinstall", with: "update"), "\(path)/manifest has no postinstall action"),
            (Self.updateCheck().replacingAll(#"<package hash="not-used" name="file.signed" size="123"/>"#, with: ""),
             "\(path)/manifest has no packages/package"),
            (#"<updatecheck status="ok"><urls><url codebase="x/"/></urls></updatecheck>"#, "\(path) has no manifest"),
        ]
        for (updateCheck, message) in cases {
            do throws(OmahaError) {
                let parsed = try response(updateCheck)
                XCTFail("\(updateCheck) read as \(parsed)")
            } catch {
                XCTAssertEqual(error.kind, .invalidContent, updateCheck)
                XCTAssertEqual(error.description, message, updateCheck)
            }
        }
    }

    /// Servers write the same document differently: devservers self-close elements and name no
    /// server, ChromeOS's puts an `update` action before the postinstall one and omits the declaration.
    func testReadsOtherServersLayouts() throws {
        let devserver = try response(Self.updateCheck().replacingAll(#" IsDeltaPayload="true""#, with: ""))
        XCTAssertEqual(devserver.server, "")
        XCTAssertEqual(devserver.daystartElapsedSeconds, 100)
        guard case .update(let update) = devserver.apps.first?.updateCheck else { return XCTFail("no update offered") }
        XCTAssertFalse(update.isDeltaPayload, "IsDelta is ChromeOS's deprecated attribute; only IsDeltaPayload counts")
        let chromeOS = try OmahaResponse(parsing: #"<response protocol="3.0" server="prod"><app appid="{90f229ce}" status="ok">"#
            + Self.updateCheck(hash: "DIAVxoI+8NpsudUawOA5U92VHlaxQBS3ejN4EPM6T2A=")
                .replacingAll("<actions>", with: #"<actions><action event="update" run="chromeos.signed"/>"#)
            + "</app></response>")
        guard case .update(let chromeUpdate) = chromeOS.apps.first?.updateCheck else { return XCTFail("no update offered") }
        XCTAssertEqual(chromeUpdate.sha256Base64, "DIAVxoI+8NpsudUawOA5U92VHlaxQBS3ejN4EPM6T2A=")
        XCTAssertFalse(chromeOS.apps[0].pingAcknowledged)
    }

    /// coreos/go-omaha's no-update fixture as stored (src/omaha/fixtures/update-engine/no-update/response.xml)
    /// is not XML: update_engine's error 31, not an empty answer.
    func testRefusesMalformedResponseWithItsPosition() {
        do throws(OmahaError) {
            let parsed = try OmahaResponse(parsing: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response\" protocol=\"3.0\">\n")
            XCTFail("read as \(parsed)")
        } catch {
            XCTAssertEqual(error.kind, .malformedXML)
            XCTAssertEqual(error.description, "line 2, column 10: expected whitespace, > or /> in <response>")
        }
    }

    func testRefusesAnotherRootElement() {
        XCTAssertThrowsError(try OmahaResponse(parsing: OmahaRequestTests.specExample)) { error in
            XCTAssertEqual((error as? OmahaError)?.description, "the root element is <request>, not an Omaha <response>")
        }
    }

    /// flatcar/update_engine's GetUpdateResponse2, with the fields a test varies.
    static func updateCheck(codebase: String = "http://code/base/", name: String = "file.signed", size: String = "123",
                            hash: String = "HASH1234=", extra: String = "") -> String {
        #"<updatecheck status="ok"\#(extra)><urls><url codebase="\#(codebase)"/></urls><manifest version="1.2.3.4">"#
            + #"<packages><package hash="not-used" name="\#(name)" size="\#(size)"/></packages>"#
            + #"<actions><action event="postinstall" IsDelta="true" IsDeltaPayload="true" sha256="\#(hash)" /></actions>"#
            + "</manifest></updatecheck>"
    }

    private func response(_ updateCheck: String) throws(OmahaError) -> OmahaResponse {
        try OmahaResponse(parsing: #"<?xml version="1.0" encoding="UTF-8"?><response protocol="3.0"><daystart elapsed_seconds="100"/>"#
            + #"<app appid="{e96281a6-d1af-4bde-9a0a-97b76e56dc57}" status="ok"><ping status="ok"/>\#(updateCheck)</app></response>"#)
    }

    private func updateCheck(_ element: String) throws(OmahaError) -> OmahaResponse.UpdateCheck? {
        try response(element).apps.first?.updateCheck
    }
}
