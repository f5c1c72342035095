// The roles are declared once, in src/pki/roles.ts; this module keeps the names the API has
// always exported here for the code that imports them from this path.
export { impersonatorRole, rolesFromOrganizations } from "../../pki/roles.ts";
