import Core
import Foundation
import Ledger
import Leaf
import SQLKit
import Vapor

/// The policy (everyone reads it; the operator sets it).
package enum PolicyPages: ConsoleArea {
    package struct PolicyField: Encodable {
        package var key: String
        package var label: String
        package var value: String
        package var error: String?
        /// A format-2 rule switched on or off by a box; otherwise a whole number (`reviewTermDays`
        /// may be left empty: the rule is then off).
        package var isFlag = false
        package var optional = false
    }

    package struct PolicyPage: Encodable {
        package var fields: [PolicyField]
        package var editable: Bool
    }

    package static let policyKeys = ["maxTermDays", "minTermDays", "minPieceFen", "maxFaceFen", "maxTier", "acceptanceWindowDays", "financingCutoffDays", "graceDays"]
    /// Format 2 (77号): a number that may be left empty, and two switches.
    package static let reviewKey = "reviewTermDays"
    package static let flagKeys = ["filingRequired", "defaultBlocksIssue"]

    @Sendable package static func policy(req: Request) async throws -> Response { try await policyPage(req, form: FormState(), error: nil) }

    package static func policyPage(_ req: Request, form: FormState, error: String?) async throws -> Response {
        let viewer = try await viewer(req)
        let current = try await req.application.requireSequencer().read(\.policy)
        let page = model(current, editable: viewer.role == .operator, form: form, presenter: try await Presenter.make(req))
        return try await render(req, "operator/policy", title: "policy_title", page: page,
                                status: error == nil ? .ok : form.httpStatus, notice: notice(req), error: error)
    }

    /// The policy's fields, with what a refused form sent in place of the current values.
    package static func model(_ policy: Policy, editable: Bool, form: FormState, presenter p: Presenter) -> PolicyPage {
        let current = policy.json
        let numbers = policyKeys.map { key in
            PolicyField(key: key, label: p.tr("policy_\(key)"), value: form.values[key] ?? String(current[key]?.intValue ?? 0), error: form.errors[key])
        }
        let review = PolicyField(key: reviewKey, label: p.tr("policy_\(reviewKey)"), value: form.values[reviewKey] ?? current[reviewKey]?.intValue.map { String($0) } ?? "",
                                 error: form.errors[reviewKey], optional: true)
        let flags = flagKeys.map { key in
            let on = form.values.isEmpty ? current[key] == .bool(true) : form.values[key] == "on"
            return PolicyField(key: key, label: p.tr("policy_\(key)"), value: on ? "on" : "", error: form.errors[key], isFlag: true)
        }
        return PolicyPage(fields: numbers + [review] + flags, editable: editable)
    }

    @Sendable package static func setPolicy(req: Request) async throws -> Response {
        let viewer = try await viewer(req)
        let values = form(req)
        do {
            var fields: [JSONKey: JSON] = [:]
            for key in policyKeys {
                guard let n = values[key].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else { throw LedgerError.invalid(key, "must be a whole number") }
                fields[key] = .int(n)
            }
            if let text = values[reviewKey]?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
                guard let n = Int64(text) else { throw LedgerError.invalid(reviewKey, "must be a whole number, or empty to turn the term review off") }
                fields[JSONKey(reviewKey)] = .int(n)
            }
            for key in flagKeys { fields[JSONKey(key)] = .bool(values[key] == "on") }
            _ = try await OnboardingService.setPolicy(fields, by: viewer, app: req.application, address: req.remoteAddress?.ipAddress)
            return redirect("/policy", notice: "policy_set")
        } catch {
            var fieldNames: [String: String] = [:]
            for key in policyKeys + [reviewKey] + flagKeys { fieldNames["payload.policy.\(key)"] = key }
            let (message, state) = try formError(req, error, values: values, fieldNames: fieldNames)
            return try await policyPage(req, form: state, error: message)
        }
    }
}
