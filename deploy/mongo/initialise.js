// The one-shot initialisation of DoseLedger's MongoDB (deploy/compose.yaml, service mongo-init).
// Run again, it changes nothing: each step checks first.
//   1. the replica set rs0 of one node (change streams now; more nodes can join later)
//   2. DoseLedger's user, named with its password in the connection string the services use (secret mongodb_uri),
//      with readWrite on the database that string names
const fs = require("fs");
const secret = (variable) => fs.readFileSync(process.env[variable], "utf8").trim();

const admin = db.getSiblingDB("admin");
admin.auth("root", secret("MONGO_ROOT_PASSWORD_FILE"));

let initiated = true;
try {
  admin.runCommand({ replSetGetStatus: 1 });
} catch (error) {
  if (error.codeName !== "NotYetInitialized") throw error;
  initiated = false;
}
if (initiated) {
  print("replica set rs0: already initiated");
} else {
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
  print("replica set rs0: initiated with mongo:27017");
}
for (let waited = 0; !admin.runCommand({ hello: 1 }).isWritablePrimary; waited++) {
  if (waited >= 60) throw new Error("mongo did not become the primary of rs0 within 60 s");
  sleep(1000);
}

const uri = new URL(secret("MONGODB_URI_FILE"));
const user = decodeURIComponent(uri.username);
const database = decodeURIComponent(uri.pathname.replace(/^\//, "")) || "doseledger";
const home = db.getSiblingDB(uri.searchParams.get("authSource") || database);
if (!user) throw new Error("the mongodb_uri secret names no user: mongodb://USER:PASSWORD@mongo:27017/doseledger?...");
if (home.getUser(user)) {
  print(`user ${user}: already exists in ${home.getName()}`);
} else {
  home.createUser({ user, pwd: decodeURIComponent(uri.password), roles: [{ role: "readWrite", db: database }] });
  print(`user ${user}: created in ${home.getName()} with readWrite on ${database}`);
}
