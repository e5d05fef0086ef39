// The official Node.js SDK's classic flow, run as a microservice by sdk/node_e2e_test.c in the
// image scripts/build-node-sdk-image.sh makes. Every event is printed on stdout as one line
// `FLOW <event> <fields...>` (strings as JSON), which the test reads with `docker logs`:
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
'use strict'

const sdk = require('@iofog/nodejs-sdk')

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

sdk.init('iofog', port, null, () => {
  out('init', sdk.getURL('http', ''), port)
  readConfig()
  restPhase(socketPhase)
})
