import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { certificateRoles, impersonatorRole, isRole, roles, rolesFromOrganizations } from "./roles.ts";

describe("roles", () => {
  it("a client role is never os:impersonator, which only a node certificate carries", () => {
    assert.equal(isRole("os:reader"), true);
    assert.equal(isRole(impersonatorRole), false);
    assert.deepEqual(certificateRoles, [...roles, "os:impersonator"]);
  });

  it("reads the roles of a certificate's Organization values in a stable order, ignoring others", () => {
    assert.deepEqual(rolesFromOrganizations(["os:impersonator", "example:staff", "os:reader", "os:admin"]), [
      "os:admin",
      "os:reader",
      "os:impersonator",
    ]);
    assert.deepEqual(rolesFromOrganizations(["example:staff", "OS:ADMIN"]), []);
  });
});
