// The official Node.js SDK's classic flow, run as a microservice by sdk/node_e2e_test.c in the
// image scripts/build-node-sdk-image.sh makes. Every event is printed on stdout as one line
// `FLOW <event> <fields...>` (strings as JSON), which the test reads with `docker logs`:
//   FLOW sdk <package name> <version>         (which SDK the image holds)
//   FLOW init <host> <port>
//   FLOW config <configuration JSON>          (getConfig: at start and after every control signal)
//   FLOW rest-receipt <id> <timestamp>         (sendNewMessage)
//   FLOW rest-message <publisher> <content>    (getNextMessages, polled until a message comes)
//   FLOW ws-open                               (message socket open; three messages sent on it)
//   FLOW ws-receipt <id> <timestamp>
//   FLOW ws-message <publisher> <content>      (messages pushed on the message socket)
//   FLOW signal                                (control socket: new configuration)
//   FLOW error|bad-request <call> <detail>
// REST first, sockets after: while a message socket is open the Agent pushes the messages there
// and /v2/messages/next has nothing to return.
// Either SDK serves: Datasance's @datasance/iofog-nodejs-sdk 3.x (axios, pino; 8-byte numbers in
// binary messages and receipts read as IEEE doubles) or Eclipse's @iofog/nodejs-sdk 1.3.x
// (request; 8-byte numbers read as integers). The calls and callbacks used here are the same in
// both.
'use strict'

const sdkNames = ['@datasance/iofog-nodejs-sdk', '@iofog/nodejs-sdk']

// The first of sdkNames that is installed. Only "not installed" moves on to the next name: an
// installed SDK that fails to load (a dependency missing) throws here, with its own error.
function loadSdk () {
  for (const name of sdkNames) {
    let main
    try {
      main = require.resolve(name)
    } catch (e) {
      continue
    }
    return { name: name, version: require(name + '/package.json').version, sdk: require(main) }
  }
  throw new Error('none of ' + sdkNames.join(', ') + ' is installed')
}

const loaded = loadSdk()
const sdk = loaded.sdk

const port = parseInt(process.env.IOFOG_AGENT_PORT || '54321', 10)
const restPollMs = 250
const restPollMax = 120 // 30 s at most

// Plain writes: the SDK decorates console.log with time stamps.
function out (...fields) {
  process.stdout.write('FLOW ' + fields.join(' ') + '\n')
}

function text (buf) {
  return JSON.stringify(Buffer.isBuffer(buf) ? buf.toString('utf8') : String(buf))
}

function listener (call, more) {
  return Object.assign({
    onError: (e) => out('error', call, JSON.stringify(String((e && e.message) || e))),
    onBadRequest: (body) => out('bad-request', call, JSON.stringify(body))
  }, more)
}

function newMessage (tag, content) {
  return sdk.ioMessage({
    tag: tag,
    infotype: 'text',
    infoformat: 'utf-8',
    contextdata: Buffer.from('ctx-' + tag),
    contentdata: Buffer.from(content, 'utf8')
  })
}

function readConfig () {
  sdk.getConfig(listener('getConfig', {
    onNewConfig: (cfg) => out('config', JSON.stringify(cfg))
  }))
}

function restPhase (done) {
  sdk.sendNewMessage(newMessage('rest', 'node rest \u2713'), listener('sendNewMessage', {
    onMessageReceipt: (id, ts) => out('rest-receipt', id, ts)
  }))
  let polls = 0
  const poll = () => {
    polls++
    sdk.getNextMessages(listener('getNextMessages', {
      onMessages: (msgs) => {
        msgs.forEach((m) => out('rest-message', m.publisher, text(m.contentdata)))
        if (msgs.length > 0 || polls >= restPollMax) {
          done()
        } else {
          setTimeout(poll, restPollMs)
        }
      }
    }))
  }
  poll()
}

function socketPhase () {
  sdk.wsControlConnection(listener('wsControlConnection', {
    onNewConfigSignal: () => {
      out('signal')
      readConfig()
    }
  }))
  sdk.wsMessageConnection((client) => {
    out('ws-open')
    for (let i = 0; i < 3; i++) {
      client.wsSendMessage(newMessage('ws', 'node ws ' + i + ' \u2713'))
    }
  }, listener('wsMessageConnection', {
    onMessageReceipt: (id, ts) => out('ws-receipt', id, ts),
    onMessages: (msgs) => msgs.forEach((m) => out('ws-message', m.publisher, text(m.contentdata)))
  }))
}

process.on('SIGTERM', () => process.exit(0))

out('sdk', loaded.name, loaded.version)
sdk.init('iofog', port, null, () => {
  out('init', sdk.getURL('http', ''), port)
  readConfig()
  restPhase(socketPhase)
})
